"""MQTT topics of a site's zones (DESIGN.md § MQTT): `farm/{site}/{zone}/{leaf}`, commands on `.../cmd/{account}`.

Ids are checked wherever a topic or a filter is made, so a `+` or `#` in a site or zone id can never widen a
subscription or an ACL; accounts are the broker's (`farmctl broker config` makes them).
"""

from __future__ import annotations

import re
from typing import NamedTuple

ROOT = "farm"
ID_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"  # site and zone ids, as the site file has them
LEAVES: tuple[str, ...] = ("status", "state", "alarms", "events", "cmd", "ack")
ACCOUNT_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"  # broker account names (`farmctl broker config` makes these)
# Accounts that speak for people they authenticated themselves: the portal names its signed-in user in
# `issued_by`. Any other account may name only itself, or a person under its own name (`technician:kim`).
PERSON_NAMING_ACCOUNTS = frozenset({"portal"})

_ID_RE = re.compile(ID_PATTERN)
_ACCOUNT_RE = re.compile(ACCOUNT_PATTERN)


class TopicParts(NamedTuple):
    site: str
    zone: str
    leaf: str
    account: str | None = None  # `cmd/{account}`: the broker account that published the command


def _check_id(what: str, value: str) -> None:
    if not isinstance(value, str) or not _ID_RE.fullmatch(value):
        raise ValueError(f"{what} id {value!r} must match {ID_PATTERN}")


def _check_account(account: str) -> None:
    if not isinstance(account, str) or not _ACCOUNT_RE.fullmatch(account):
        raise ValueError(f"account {account!r} must match {ACCOUNT_PATTERN}")


def topic(site: str, zone: str, leaf: str) -> str:
    """`farm/{site}/{zone}/{leaf}`; ids are checked so a bad one cannot widen a subscription or an ACL.
    Commands go to the publishing account's own branch: `command_topic`."""
    _check_id("site", site)
    _check_id("zone", zone)
    if leaf not in LEAVES:
        raise ValueError(f"topic leaf {leaf!r} not one of {', '.join(LEAVES)}")
    if leaf == "cmd":
        raise ValueError("commands are published on farm/SITE/ZONE/cmd/ACCOUNT: use command_topic()")
    return f"{ROOT}/{site}/{zone}/{leaf}"


def command_topic(site: str, zone: str, account: str) -> str:
    """`farm/{site}/{zone}/cmd/{account}`: each account publishes on its own branch, which the broker lets no
    other account write, so the daemon knows who sent a command from the topic, not from the payload."""
    _check_id("site", site)
    _check_id("zone", zone)
    _check_account(account)
    return f"{ROOT}/{site}/{zone}/cmd/{account}"


def commands_filter(site: str, zone: str) -> str:
    """The daemon's subscription: every account's commands to one zone (`farm/{site}/{zone}/cmd/+`)."""
    _check_id("site", site)
    _check_id("zone", zone)
    return f"{ROOT}/{site}/{zone}/cmd/+"


def zones_filter(site: str, leaf: str) -> str:
    """The subscription filter for one leaf of every zone of a site (`farm/{site}/+/state`; for `cmd` every
    account's branch, `farm/{site}/+/cmd/+`)."""
    _check_id("site", site)
    if leaf not in LEAVES:
        raise ValueError(f"topic leaf {leaf!r} not one of {', '.join(LEAVES)}")
    return f"{ROOT}/{site}/+/{leaf}" + ("/+" if leaf == "cmd" else "")


def parse_topic(text: str) -> TopicParts:
    """`farm/{site}/{zone}/{leaf}` or `farm/{site}/{zone}/cmd/{account}` back into its parts; ValueError for
    anything else (wildcards included)."""
    parts = text.split("/") if isinstance(text, str) else []
    if len(parts) not in (4, 5) or parts[0] != ROOT or (len(parts) == 5) != (parts[3:4] == ["cmd"]):
        raise ValueError(f"topic {text!r} is not {ROOT}/SITE/ZONE/LEAF or {ROOT}/SITE/ZONE/cmd/ACCOUNT")
    site, zone, leaf = parts[1:4]
    _check_id("site", site)
    _check_id("zone", zone)
    if leaf not in LEAVES:
        raise ValueError(f"topic leaf {leaf!r} not one of {', '.join(LEAVES)}")
    account = parts[4] if len(parts) == 5 else None
    if account is not None:
        _check_account(account)
    return TopicParts(site, zone, leaf, account)


def may_speak_for(account: str, issued_by: str) -> bool:
    """Whether `account` may publish a command naming `issued_by` as its author (see PERSON_NAMING_ACCOUNTS)."""
    return account in PERSON_NAMING_ACCOUNTS or issued_by == account or issued_by.startswith(f"{account}:")
