"""deploy/asterisk/build.sh builds exactly the modules the hotline needs (issue 20): its module
list (from `build.sh --dry-run`) covers every dialplan application, dialplan function and AMI
action the shipped configs and the adapter use, and every config file's module. Which module
provides what is Asterisk 22's own documentation (core-en_US.xml of the 22.10.1 build, copied to
tests/fixtures/asterisk/doc-modules.tsv)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AST = ROOT / "deploy/asterisk"
DOC = ROOT / "tests/fixtures/asterisk/doc-modules.tsv"

# a config file → the module that reads it ("core": Asterisk itself)
CONF_MODULE = {
    "extensions.conf": "pbx_config", "queues.conf": "app_queue", "pjsip.conf": "res_pjsip",
    "manager.conf": "core", "cdr.conf": "core", "features.conf": "core", "indications.conf": "core",
    "logger.conf": "core", "asterisk.conf": "core", "modules.conf": "core", "http.conf": "core",
    "cdr_pgsql.conf": "cdr_pgsql", "cel_pgsql.conf": "cel_pgsql", "cel.conf": "core",
    "res_pgsql.conf": "res_config_pgsql", "musiconhold.conf": "res_musiconhold",
    "rtp.conf": "res_rtp_asterisk", "cdr_manager.conf": "cdr_manager", "ccss.conf": "core",
}
# a pjsip.conf section type → its module
PJSIP_TYPE = {
    "transport": "res_pjsip", "endpoint": "res_pjsip", "aor": "res_pjsip", "auth": "res_pjsip",
    "domain_alias": "res_pjsip", "global": "res_pjsip", "system": "res_pjsip", "contact": "res_pjsip",
    "identify": "res_pjsip_endpoint_identifier_ip", "registration": "res_pjsip_outbound_registration",
    "acl": "res_pjsip_acl", "wizard": "res_pjsip_config_wizard", "phoneprov": "res_phoneprov",
    "outbound-publish": "res_pjsip_outbound_publish", "inbound-publication": "res_pjsip_publish_asterisk",
}


def dry_run() -> dict[str, str]:
    out = subprocess.run(["bash", str(AST / "build.sh"), "--dry-run"], capture_output=True, text=True,
                         check=True, timeout=30).stdout
    return dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)


def doc() -> dict[tuple[str, str], str]:
    m = {}
    for line in DOC.read_text().splitlines():
        kind, name, module = line.split("\t")
        m[(kind, name.upper())] = module
    return m


def dialplan_uses(text: str) -> tuple[set[str], set[str]]:
    apps, funcs = set(), set()
    for line in text.splitlines():
        line = line.split(";", 1)[0]
        m = (re.match(r"\s*exten\s*=>\s*[^,]+,[^,]+,\s*([A-Za-z][A-Za-z0-9_]*)\s*\(", line)
             or re.match(r"\s*same\s*=>\s*[^,]+,\s*([A-Za-z][A-Za-z0-9_]*)\s*\(", line))
        if m:
            apps.add(m.group(1))
        # a function is a word of two or more capitals; one letter before "(" is an application's
        # option (Dial's U(…), Queue's options), not a function
        funcs.update(re.findall(r"\b([A-Z][A-Z0-9_]+)\(", line))
    return apps, {f for f in funcs if f not in apps}


def modules_for(d: dict[tuple[str, str], str], kind: str, name: str) -> str:
    mod = d.get((kind, name.upper()))
    assert mod is not None, f"{kind} {name}: not in Asterisk 22's documentation (a typo in the dialplan?)"
    return mod


def test_dry_run_prints_packages_configure_menuselect_and_modules() -> None:
    r = dry_run()
    assert r["asterisk"].startswith("22."), "Asterisk 22 LTS"
    assert "libpq-dev" in r["packages"].split() and "build-essential" in r["packages"].split()
    assert r["configure"].startswith("./configure ") and "--with-pjproject-bundled" in r["configure"]
    assert "--disable-all" in r["menuselect"]
    mods = r["modules"].split()
    assert {"chan_pjsip", "res_pjsip", "cdr_pgsql", "app_queue"} <= set(mods)
    for m in mods:  # each module is enabled in menuselect
        assert f"--enable {m} " in r["menuselect"] + " ", m


def test_the_module_list_covers_every_application_function_action_and_config() -> None:
    mods = set(dry_run()["modules"].split()) | {"core", "builtin"}
    d = doc()
    need: dict[str, str] = {}  # module → why
    dialplan = (AST / "extensions.conf").read_text()
    apps, funcs = dialplan_uses(dialplan)
    assert {"Queue", "Dial", "Answer"} <= apps and {"GROUP_COUNT", "CALLERID"} <= funcs  # the parser works
    for a in apps:
        need.setdefault(modules_for(d, "application", a), f"application {a}")
    for f in funcs:
        need.setdefault(modules_for(d, "function", f), f"function {f}")
    # the AMI actions the adapter and the dialer send
    sent = set()
    for py in [*(ROOT / "telephony").glob("*.py"), *(ROOT / "callbacks").glob("*.py")]:
        sent.update(re.findall(r"[\"']Action[\"']\s*:\s*[\"']([A-Za-z]+)[\"']", py.read_text()))
    assert {"Originate", "QueuePause", "QueueStatus"} <= sent
    for a in sent - {"Logoff", "Login", "Ping", "Events", "Challenge"}:
        need.setdefault(modules_for(d, "manager", a), f"AMI action {a}")
    for conf in AST.glob("*.conf"):
        assert conf.name in CONF_MODULE, f"{conf.name}: which module reads it? (add it to CONF_MODULE)"
        need.setdefault(CONF_MODULE[conf.name], conf.name)
        if conf.name == "pjsip.conf":
            need.setdefault("chan_pjsip", "PJSIP/ channels in extensions.conf")
            for t in re.findall(r"^\s*type\s*=\s*([a-z_-]+)", conf.read_text(), re.M):
                assert t in PJSIP_TYPE, f"pjsip.conf type={t}: which module? (add it to PJSIP_TYPE)"
                need.setdefault(PJSIP_TYPE[t], f"pjsip.conf type={t}")
        for m in re.findall(r"^\s*(?:load|require)\s*=>?\s*([a-z0-9_]+)\.so", conf.read_text(), re.M):
            need.setdefault(m, f"{conf.name} loads it")
    missing = {m: why for m, why in need.items() if m not in mods}
    assert not missing, f"build.sh does not build: {missing}"

