"""deploy/asterisk/manager.conf's `hotline` user on a real Asterisk: least privilege and event filters.

Prints AMI events per call for a user reading everything (`driver`, no filters) and for `hotline`
(docs/benchmarks.md, "AMI events per call")."""

from __future__ import annotations

import asyncio
from collections import Counter

from tests.pbx.asterisk import HOTLINE_SECRET, Asterisk, Driver


async def test_the_hotline_user_cannot_read_configs_and_gets_only_the_events_it_reads(
        asterisk: Asterisk, driver: Driver) -> None:
    hotline = Driver(asterisk.port)
    assert (await hotline.connect("hotline", HOTLINE_SECRET)).get("Response") == "Success"
    try:
        denied = await hotline.action({"Action": "GetConfig", "Filename": "manager.conf"})
        assert denied.get("Response") == "Error" and "Permission denied" in denied.get("Message", ""), denied
        listing = await hotline.action({"Action": "CoreShowChannels"}, listing=True)
        assert listing.get("Response") == "Success"  # `reporting` is enough for the listing
        calls = 6
        for i in range(calls):
            await driver.inbound(f"1590000{i:04d}", 3 + i)
            await asyncio.sleep(0.3)
        async with asyncio.timeout(60):
            while await driver.channels():
                await asyncio.sleep(0.5)
        await asyncio.sleep(1.0)
    finally:
        await hotline.close()
    everything = Counter(e["Event"] for e in driver.events)
    filtered = Counter(e["Event"] for e in hotline.events)
    print(f"\nAMI events per call: read=all without filters {sum(everything.values()) / calls:.1f} "
          f"(VarSet {everything['VarSet'] / calls:.1f}, Newexten {everything['Newexten'] / calls:.1f}); "
          f"the hotline user {sum(filtered.values()) / calls:.1f}\n  hotline user got: {dict(filtered)}")
    assert filtered["VarSet"] == 0 and filtered["Newexten"] == 0 and filtered["CEL"] == 0
    assert filtered["Hangup"] > 0 and filtered["AgentConnect"] > 0 and filtered["Newstate"] > 0
    assert sum(filtered.values()) * 3 < sum(everything.values())
