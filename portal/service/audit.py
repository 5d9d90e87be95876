"""The audit log: who did what to which zone, when, and how it came out; filtered queries and a CSV for Excel.

Every command and its outcome, every sign-in, and every admin change is one row (the facade and `farmctl portal`
record them). Rows are only ever added. Times are stored in UTC; the CSV shows Asia/Seoul time beside them.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from portal.service.db import DbAudit
from portal.service.errors import BadRequest
from portal.service.model import SEOUL, Principal, ZoneKey
from portal.service.store import Store, utc_now
from portal.service.views import AuditRow

MAX_ROWS = 10000  # the most one query returns (newest first): a page or a CSV never pulls the whole table
CSV_COLUMNS = ("time_seoul", "time_utc", "username", "role", "action", "site", "zone", "outcome", "command_id",
               "detail")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a cell starting so is a formula to Excel: text, not code


def record(store: Store, principal: Principal | None, action: str, key: ZoneKey | None, detail: dict[str, Any],
           outcome: str, command_id: str | None = None, now: datetime | None = None, *,
           actor: str | None = None) -> int:
    """Add one row and return its id. `actor` names who acted when no portal user did (`cli:root` for the
    command line, the name typed at a failed sign-in)."""
    row = DbAudit(time=utc_now(now),
                  username=principal.username if principal is not None else actor,
                  role=principal.role.value if principal is not None else None,
                  action=action, site=key.site if key else None, zone=key.zone if key else None,
                  detail=json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str),
                  outcome=outcome, command_id=command_id)
    with store.session() as session:
        session.add(row)
        session.flush()
        return row.id


def query(store: Store, *, since: datetime | None = None, until: datetime | None = None, username: str | None = None,
          site: str | None = None, zone: str | None = None, action: str | None = None,
          limit: int = 1000) -> list[AuditRow]:
    """Rows in [since, until) (aware times) matching every filter given (None: any), newest first, at most `limit`
    (1..MAX_ROWS)."""
    if not 1 <= limit <= MAX_ROWS:
        raise BadRequest("limit", f"{limit}: 1~{MAX_ROWS}", f"{limit}: 1 to {MAX_ROWS}")
    statement = select(DbAudit).order_by(DbAudit.time.desc(), DbAudit.id.desc()).limit(limit)
    if since is not None:
        statement = statement.where(DbAudit.time >= since)
    if until is not None:
        statement = statement.where(DbAudit.time < until)
    for column, value in ((DbAudit.username, username), (DbAudit.site, site), (DbAudit.zone, zone),
                          (DbAudit.action, action)):
        if value is not None:
            statement = statement.where(column == value)
    with store.session() as session:
        return [AuditRow(row.time, row.username, row.role, row.action, row.site, row.zone, row.outcome,
                         row.command_id, json.loads(row.detail)) for row in session.scalars(statement)]


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def to_csv(rows: list[AuditRow]) -> bytes:
    """UTF-8 with a byte-order mark (so Excel shows Korean), Asia/Seoul and UTC times, detail as JSON."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        detail = json.dumps(row.detail, ensure_ascii=False, sort_keys=True, default=str)
        writer.writerow([row.time.astimezone(SEOUL).isoformat(timespec="seconds"),
                         row.time.astimezone(UTC).isoformat(timespec="seconds")]
                        + [_cell(v) for v in (row.username, row.role, row.action, row.site, row.zone, row.outcome,
                                              row.command_id, detail)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
