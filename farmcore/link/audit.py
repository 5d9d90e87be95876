"""The audit record of a command: what the historian keeps of every command, accepted or not.

Who sent it (the broker account from its topic, and the person it names), what, when, why and the outcome,
flat and without None values so it is an event point's fields as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from farmcore.link.messages import MAX_REASON, Ack, Command, iso

MAX_MESSAGE = 500


def clip(text: str) -> str:
    """A message at most MAX_MESSAGE characters (acks and audit records travel and are stored)."""
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def audit_record(ack: Ack, command: Command | None, now: datetime, raw: Mapping[str, Any] | None = None,
                 account: str | None = None) -> dict[str, float | int | str | bool]:
    """The historian event of one command: who (the broker account that sent it, from its topic, and the
    person it names), what, when, why and the outcome.

    Flat, with no None values, so it can be an event point's fields as it is
    (`Point("event", site, zone, record["code"], now, record)`). For a payload that was not a valid
    command, `who` and `kind` come from the raw JSON when they are text, clipped.
    """
    record: dict[str, Any] = {
        "code": "command_applied" if ack.ok else "command_rejected",
        "at": iso(now),
        "ok": ack.ok,
    }
    if ack.id is not None:
        record["id"] = ack.id
    if account is not None:
        record["account"] = account[:64]  # from the topic: any text a client could publish on
    if ack.error is not None:
        record["error"] = str(ack.error)
    if command is not None:
        record.update(who=command.issued_by, kind=command.kind, issued_at=iso(command.issued_at),
                      expires_at=iso(command.expires_at), why=command.reason)
        for name in ("target", "value", "duration_s"):
            v = getattr(command, name)
            if v is not None:
                record[name] = v
    elif raw is not None:
        for src, dst in (("issued_by", "who"), ("kind", "kind"), ("reason", "why")):
            v = raw.get(src)
            if isinstance(v, str):
                record[dst] = v[:64] if dst != "why" else v[:MAX_REASON]
    who = record.get("who", "unknown")
    via = f" via {account}" if account is not None and account != who else ""
    what = " ".join(str(record[k]) for k in ("kind", "target", "value") if k in record) or "?"
    outcome = "applied" if ack.ok else f"rejected {ack.error}"
    record["message"] = clip(f"command {ack.id or '(no id)'} {what} by {who}{via}: {outcome}: {ack.message}")
    return record
