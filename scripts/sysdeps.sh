#!/usr/bin/env bash
# System packages the tests need, installed from Debian's packages where we are root:
# PostgreSQL (only where no server answers on 127.0.0.1:5432), Chromium and a CJK font for the
# browser tier. Elsewhere it says what is missing; the tests then start a throwaway cluster or
# skip that tier loudly.
set -u
need=()
pg_up() { command -v pg_isready >/dev/null && pg_isready -h 127.0.0.1 -p 5432 -q; }
if ! pg_up && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then need+=(postgresql); fi
if [ -f tests/browser/.needs-chromium ] || ls tests/browser/test_*.py >/dev/null 2>&1; then
  command -v chromium >/dev/null || need+=(chromium)
  fc-list 2>/dev/null | grep -qi "wenquanyi\|wqy" || need+=(fonts-wqy-microhei)
fi
# the pbx tier: the runtime libraries of the Asterisk build in ../shared/pbx (its README's list)
if ls ../shared/pbx/asterisk-*/sbin/asterisk >/dev/null 2>&1 || [ -n "${HOTLINE_PBX_DIR:-}" ]; then
  for p in libc6 libcrypt1 libssl3 libedit2 libjansson4 libxml2 libxslt1.1 libsqlite3-0 libuuid1 libpq5; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
  done
fi
# the install guide's test (deploy/test-install.sh): nginx and openssl as a Debian 12 server has them
if [ -f deploy/test-install.sh ]; then
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
  command -v openssl >/dev/null || need+=(openssl)
fi
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing system packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
    || echo "WARNING: could not install ${need[*]}; the tests that need them will be skipped" >&2
else
  echo "WARNING: missing system packages (${need[*]}); not root, so not installing them." >&2
  echo "         PostgreSQL tests use a throwaway cluster if initdb exists, else they are SKIPPED." >&2
fi
# a server installed just now by Debian's package starts its own cluster on 5432
if [[ " ${need[*]} " == *" postgresql "* ]] && ! pg_up; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start 2>/dev/null || true
fi
exit 0
