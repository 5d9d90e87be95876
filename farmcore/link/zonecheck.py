"""`zone cmd`'s first step: does the zone exist on this broker, and has its daemon ever connected?

Every zone daemon leaves a retained `status` (`online`, and `offline` by its last will), so the retained statuses
of `farm/{site}/+/status` list the zones that could receive a command. A zone without one has never connected:
the broker would drop a command to a topic nobody subscribes to, so waiting for its ack is pointless.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

import aiomqtt

from farmcore.errors import BadInput, FarmError
from farmcore.link.brokerurl import BrokerUrl
from farmcore.link.topics import parse_topic, topic, zones_filter

QUIET_S = 0.5  # retained messages come right after the SUBACK; this long without one means we have them all
STATUS_WAIT_S = 2.0  # at most this long for the site's retained statuses before publishing


async def retained_statuses(client: aiomqtt.Client, site: str, *, wait: float = STATUS_WAIT_S,
                            quiet: float = QUIET_S, zones: Sequence[str] = ()) -> dict[str, str]:
    """{zone: online | offline | unknown} of every zone of `site` (only of `zones`, if given) whose daemon has
    ever connected to this broker, collected for at most `wait` s and until `quiet` s pass without another."""
    filters = [topic(site, z, "status") for z in zones] if zones else [zones_filter(site, "status")]
    await client.subscribe([(f, 1) for f in filters])
    found: dict[str, str] = {}
    loop = asyncio.get_running_loop()
    deadline, quiet_until = loop.time() + wait, loop.time() + quiet
    while (left := min(quiet_until, deadline) - loop.time()) > 0:
        try:
            message = await asyncio.wait_for(anext(client.messages), left)
        except TimeoutError:
            break
        with contextlib.suppress(ValueError):
            parts = parse_topic(str(message.topic))
            if parts.site == site and parts.leaf == "status" and message.retain:
                payload = message.payload if isinstance(message.payload, bytes | bytearray) else b""
                word = bytes(payload).decode("utf-8", "replace").strip().lower()
                found[parts.zone] = word if word in ("online", "offline") else "unknown"
                quiet_until = loop.time() + quiet
    return found


def check_zone_seen(broker: BrokerUrl, site: str, zone: str, statuses: dict[str, str],
                    known: Sequence[str] = ()) -> None:
    """Refuse at once a command no daemon would receive (BadInput, exit 2, for a zone the site does not have;
    FarmError, exit 1, when the zone or the whole site has never connected to this broker)."""
    if zone in statuses:
        return
    if zone in known:
        raise FarmError(f"zone {zone} has no retained status on broker {broker.shown}: its daemon has never "
                        "connected, so no one would receive the command; nothing sent")
    if statuses:
        raise BadInput(f"--zone {zone!r}: site {site} has no such zone on broker {broker.shown}; zones: "
                       f"{', '.join(sorted(statuses))}")
    raise FarmError(f"no zone of site {site!r} has a retained status on broker {broker.shown} (wrong --site or "
                    "--broker, or no daemon of the site has connected yet); nothing sent")
