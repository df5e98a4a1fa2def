"""Call recordings (录音, issue 18): collection from the PBX's spool, retention, listening."""
