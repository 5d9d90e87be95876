"""`farmctl portal serve`: the portal's web server, `streamlit run portal/app/main.py` with the flags a farm
server wants, its store, broker and historian passed to the app in environment variables (README § Portal):

    FARMCTL_PORTAL_DB         the store (sqlite:///PATH or postgresql+psycopg://...); unset: portal.db in the
                              state folder
    FARMCTL_PORTAL_BROKER     the broker as the `portal` account (mqtt://portal@HOST:PORT?password_env=NAME);
                              unset: no live data (the pages say so, controls stay off)
    FARMCTL_PORTAL_HISTORIAN  the historian URL; unset: $FARMCTL_HISTORIAN, else history.db in the state folder

The URLs are checked here first, and the store opened (and migrated) once, so a typo is one line and exit 2,
an unreachable database one line and exit 1, before any browser sees a page. Then this process becomes the
Streamlit server (exec): a SIGTERM from systemd or a test reaches the server itself, with no orphan left.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from farmcore import i18n
from farmcore.errors import BadInput, FarmError
from farmcore.historian.config import parse_historian_url
from farmcore.link.brokerurl import parse_broker_url
from portal.service.errors import PortalError, StoreUnavailable
from portal.service.store import Store

APP = Path(__file__).resolve().parent / "app" / "main.py"
ENV_DB, ENV_BROKER, ENV_HISTORIAN = "FARMCTL_PORTAL_DB", "FARMCTL_PORTAL_BROKER", "FARMCTL_PORTAL_HISTORIAN"
DEFAULT_PORT = 8501  # Streamlit's, and the address the README and `farmctl demo` give


class PortalDown(FarmError):
    """The store cannot be reached: exit 1, like a device that does not answer."""


def streamlit_args(address: str, port: int) -> list[str]:
    """`streamlit run` for a server: no browser to open, no usage statistics sent home, no file watcher (the
    code does not change under a running farm server), error details only in the server's log (a page shows
    its own sentence; a traceback would show paths and code), and no developer menu (its "clear cache" would
    drop every session's shared Portal)."""
    return ["-m", "streamlit", "run", str(APP), "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--server.address", address, "--server.port", str(port), "--server.fileWatcherType", "none",
            "--server.runOnSave", "false", "--client.showErrorDetails", "none", "--client.toolbarMode", "viewer"]


def app_env(db: str | None, broker: str | None, historian: str | None,
            environ: dict[str, str] | None = None) -> dict[str, str]:
    """The app's environment: this one, with the three URLs set (or removed, so an outer value cannot leak in)."""
    env = dict(os.environ if environ is None else environ)
    for name, value in ((ENV_DB, db), (ENV_BROKER, broker), (ENV_HISTORIAN, historian)):
        if value:
            env[name] = value
        else:
            env.pop(name, None)
    return env


def check(db: str | None, broker: str | None, historian: str | None) -> None:
    """Fail now, in one line, on what the app would otherwise fail on at its first page."""
    lang = i18n.language()
    if broker:
        parse_broker_url(broker)  # BadInput naming the part that is wrong (a password in the URL included)
    if historian:
        parse_historian_url(historian)
    try:
        Store.open(db).close()
    except StoreUnavailable as exc:
        raise PortalDown(exc.text(lang)) from None
    except PortalError as exc:
        raise BadInput(exc.text(lang)) from None


@click.command("serve")
@click.option("--address", default="127.0.0.1", show_default=True,
              help="where to listen (0.0.0.0: every interface; put a TLS proxy in front)")
@click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True)
@click.option("--db", envvar=ENV_DB, metavar="URL", help=f"the portal store (default: ${ENV_DB}, else portal.db in "
                                                          "the state folder)")
@click.option("--broker", envvar=ENV_BROKER, metavar="URL",
              help="the MQTT broker as the portal account, e.g. mqtt://portal@HOST?password_env=NAME "
                   f"(default: ${ENV_BROKER}; none: no live data)")
@click.option("--historian", envvar=ENV_HISTORIAN, metavar="URL",
              help=f"the historian (default: ${ENV_HISTORIAN}, else $FARMCTL_HISTORIAN or the state folder's)")
def serve(address: str, port: int, db: str | None, broker: str | None, historian: str | None) -> None:
    """Serve the tenant portal (Streamlit) until stopped."""
    check(db, broker, historian)
    os.execve(sys.executable, [sys.executable, *streamlit_args(address, port)], app_env(db, broker, historian))
