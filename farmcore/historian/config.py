"""Historian URLs (the site file's `historian = "..."` and `--historian`) -> a Historian.

    sqlite:///ABS/PATH/history.db[?raw_days=30&minute_days=365]    the embedded default
    sqlite:REL/PATH/history.db                                      relative to the working directory
    influxdb://HOST[:8086]?org=ORG&bucket=BUCKET&token_env=NAME[&tls=1]
    influxdb://HOST[:8086]?org=ORG&bucket=BUCKET&token_file=/etc/farmctl/influx.token[&tls=1]

The InfluxDB token is read from the named environment variable or file, never from the URL: a site file
is copied, mailed and committed, and a token in it leaks with it, so `token=` is refused. `raw_days` and
`minute_days` may be `none` (keep for ever). A bad URL raises `BadInput` in one line that never repeats
a secret.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

from farmcore.errors import BadInput
from farmcore.historian.base import Historian
from farmcore.paths import default_state_dir

INFLUX_PORT = 8086
SQLITE_KEYS = ("raw_days", "minute_days")
INFLUX_KEYS = ("org", "bucket", "token_env", "token_file", "tls")
_EXPECTED = ("expected sqlite:///ABS/PATH.db, sqlite:REL/PATH.db or "
             "influxdb://HOST:8086?org=ORG&bucket=BUCKET&token_env=NAME (or token_file=PATH)")


@dataclass(frozen=True)
class SqliteUrl:
    path: Path
    raw_days: float | None = 30.0
    minute_days: float | None = 365.0


@dataclass(frozen=True)
class InfluxUrl:
    host: str
    port: int
    org: str
    bucket: str
    tls: bool
    token_source: str  # "env NAME" or "file PATH", for messages
    token: str = field(repr=False)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"


def redact(url: str) -> str:
    """The URL as it may be shown: the value of any token= replaced."""
    return re.sub(r"(?i)(token=)[^&#]*", r"\1***", url)


def sqlite_url(path: str | os.PathLike[str]) -> str:
    """The URL of a SQLite history file (absolute paths as sqlite:///, relative ones as sqlite:)."""
    p = Path(path)
    return f"sqlite://{p}" if p.is_absolute() else f"sqlite:{p}"


def default_url() -> str:
    """$FARMCTL_HISTORIAN, else the SQLite file history.db in the state directory."""
    return os.environ.get("FARMCTL_HISTORIAN") or sqlite_url(default_state_dir() / "history.db")


def parse_historian_url(url: str) -> SqliteUrl | InfluxUrl:
    shown = redact(url)
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        query = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise BadInput(f"historian URL {shown!r}: the query is not key=value&key=value") from None
    params: dict[str, str] = {}
    for key, value in query:
        if key.lower() == "token":
            raise BadInput(f"historian URL {shown!r}: token= is refused: a token in a site file leaks with the "
                           "file; use token_env=NAME (an environment variable) or token_file=PATH")
        if key in params:
            raise BadInput(f"historian URL {shown!r}: {key} given twice")
        params[key] = value
    if scheme == "sqlite":
        path = unquote(parts.path)
        if path.startswith("//"):  # sqlite:////abs (SQLAlchemy's four slashes) is /abs; a POSIX Path keeps "//abs"
            path = "/" + path.lstrip("/")
        return _sqlite(shown, parts.netloc, path, params)
    if scheme == "influxdb":
        return _influx(shown, parts, params)
    raise BadInput(f"historian URL {shown!r}: {_EXPECTED}")


def _sqlite(shown: str, netloc: str, path: str, params: dict[str, str]) -> SqliteUrl:
    if netloc:
        raise BadInput(f"historian URL {shown!r}: sqlite takes no host; use sqlite:///ABS/PATH.db or "
                       "sqlite:REL/PATH.db")
    if not path or path.endswith("/"):
        raise BadInput(f"historian URL {shown!r}: no database file named; {_EXPECTED}")
    _unknown(shown, params, SQLITE_KEYS)
    days = {key: _days(shown, key, params[key]) for key in SQLITE_KEYS if key in params}
    result = SqliteUrl(path=Path(path).expanduser(), **days)
    if result.raw_days is not None and result.minute_days is not None and result.minute_days < result.raw_days:
        raise BadInput(f"historian URL {shown!r}: minute_days ({result.minute_days:g}) must be >= raw_days "
                       f"({result.raw_days:g})")
    return result


def _days(shown: str, key: str, text: str) -> float | None:
    if text.lower() in ("none", "forever"):
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise BadInput(f"historian URL {shown!r}: {key}={text!r}: a number of days > 0, or none to keep for ever")
    return value


def _influx(shown: str, parts: SplitResult, params: dict[str, str]) -> InfluxUrl:
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        raise BadInput(f"historian URL {shown!r}: the port must be a number 1-65535") from None
    if not host:
        raise BadInput(f"historian URL {shown!r}: no host; expected influxdb://HOST:8086?org=...&bucket=...")
    if parts.username or parts.password:
        raise BadInput(f"historian URL {shown!r}: no user or password in the URL; use token_env= or token_file=")
    if parts.path not in ("", "/"):
        raise BadInput(f"historian URL {shown!r}: no path after the host; org and bucket go in the query")
    _unknown(shown, params, INFLUX_KEYS)
    for key in ("org", "bucket"):
        if not params.get(key):
            raise BadInput(f"historian URL {shown!r}: {key}= is required")
    tls_text = params.get("tls", "0").lower()
    if tls_text not in ("0", "1", "true", "false", "yes", "no"):
        raise BadInput(f"historian URL {shown!r}: tls={params['tls']!r}: 0 or 1")
    if ("token_env" in params) == ("token_file" in params):
        raise BadInput(f"historian URL {shown!r}: give exactly one of token_env=NAME or token_file=PATH")
    if "token_env" in params:
        name = params["token_env"]
        token = os.environ.get(name, "").strip() if name else ""
        source = f"env {name}"
        if not token:
            raise BadInput(f"historian URL {shown!r}: environment variable {name!r} is not set or empty")
    else:
        path = Path(params["token_file"]).expanduser()
        source = f"file {path}"
        try:
            token = path.read_text("utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            raise BadInput(f"historian URL {shown!r}: token_file {str(path)!r}: {reason}") from None
        if not token:
            raise BadInput(f"historian URL {shown!r}: token_file {str(path)!r} is empty")
    return InfluxUrl(host=host, port=port or INFLUX_PORT, org=params["org"], bucket=params["bucket"],
                     tls=tls_text in ("1", "true", "yes"), token_source=source, token=token)


def _unknown(shown: str, params: dict[str, str], allowed: tuple[str, ...]) -> None:
    extra = sorted(set(params) - set(allowed))
    if extra:
        raise BadInput(f"historian URL {shown!r}: unknown parameter {extra[0]!r}; allowed: {', '.join(allowed)}")


def spool_path_for(cfg: InfluxUrl, spool_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where the durable spool of an InfluxDB historian lives: one file per server and bucket."""
    base = Path(spool_dir) if spool_dir is not None else default_state_dir() / "spool"
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{cfg.host}_{cfg.port}_{cfg.org}_{cfg.bucket}")
    return base / f"influx-{safe}.db"


def open_historian(url: str, *, spool_dir: str | os.PathLike[str] | None = None,
                   read_only: bool = False) -> Historian:
    """Open the historian a URL names. `read_only`: only query and look (the command line beside a running
    daemon): SQLite starts no writer thread; InfluxDB opens the daemon's spool without taking it over."""
    cfg = parse_historian_url(url)
    if isinstance(cfg, SqliteUrl):
        from farmcore.historian.sqlite import SqliteHistorian

        return SqliteHistorian(cfg.path, raw_days=cfg.raw_days, minute_days=cfg.minute_days, read_only=read_only)
    try:
        from farmcore.historian.influx import InfluxHistorian
    except ImportError as exc:
        raise BadInput(f"historian URL {redact(url)!r}: the InfluxDB back-end is not available: {exc}") from None
    return InfluxHistorian(url=cfg.url, org=cfg.org, bucket=cfg.bucket, token=cfg.token,
                           spool_path=spool_path_for(cfg, spool_dir), read_only=read_only)
