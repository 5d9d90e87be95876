"""`run --site SITE.toml`: the site daemon on the command line, with structured logs and clean stops.

SIGTERM and Ctrl-C put every actuator in its stop state before the process ends, and each zone says whether
all of its actuators got there; the log is one JSON object per line on stderr (for journald or a log
shipper); `--live` shows the live view (farmcore/runtime/liveview.py) on a terminal, plain text otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from farmcore import i18n
from farmcore.gpio import Watchdog, open_output
from farmcore.historian.base import Historian
from farmcore.historian.config import open_historian, sqlite_url
from farmcore.runtime.controller import ControllerFactory
from farmcore.runtime.daemon import SiteDaemon


class JsonLines(logging.Formatter):
    """One JSON object per record; a message that is itself a JSON object is merged in."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {"ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
                                  "level": record.levelname.lower(), "logger": record.name}
        message = record.getMessage()
        try:
            parsed = json.loads(message) if message.startswith("{") else None
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            out.update(parsed)
        else:
            out["msg"] = message
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def setup_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("apscheduler", "pymodbus", "mqtt"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def open_watchdog(daemon: SiteDaemon) -> Watchdog | None:
    """The hardware watchdog's heartbeat output; the daemon closes it on stop."""
    rt = daemon.site.runtime
    if rt.watchdog_pin is None:
        return None
    return Watchdog(open_output(rt.watchdog_pin, factory=rt.gpio_factory))


def daemon_historian(daemon: SiteDaemon, url: str | None) -> Historian:
    url = (url or daemon.site.runtime.historian or os.environ.get("FARMCTL_HISTORIAN")
           or sqlite_url(daemon.state_dir / "history.db"))
    return open_historian(url, spool_dir=daemon.state_dir / "spool")


async def serve_daemon(daemon: SiteDaemon, *, live: bool = False, duration_s: float | None = None,
                       final_view: bool = False) -> None:
    """Run until a signal (or `duration_s` of real time); stop states on the way out, then the last screen
    (with `live` or `final_view`) and a line per zone saying whether its actuators reached their stop states."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, daemon.request_stop)
    last_view: list[str] = []  # the zones as they ran, before the stop states
    daemon.before_stop.append(lambda: last_view.append(_screen(daemon)))
    task = asyncio.create_task(daemon.run())
    viewer = asyncio.create_task(_live(daemon)) if live else None
    try:
        if duration_s is not None:
            done, _ = await asyncio.wait({task}, timeout=duration_s)
            if not done:
                daemon.request_stop()
        await task
    finally:
        if viewer is not None:
            viewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await viewer
        if viewer is not None or final_view:
            click.echo("\n" + (last_view[-1] if last_view else _screen(daemon)))
    from farmcore.runtime.stopcheck import stop_report

    click.echo("\n".join(stop_report(daemon)))


def _screen(daemon: SiteDaemon, *, details: bool = True) -> str:
    from farmcore.runtime.liveview import render

    return render(daemon, details=details)


PLAIN_EVERY_S = 10.0  # the overview into a log or a pipe: often enough to follow, rare enough to read


async def _live(daemon: SiteDaemon) -> None:
    """The live view: rich on a terminal; elsewhere (a pipe, a log) the plain-text overview now and then."""
    if sys.stdout.isatty():
        from farmcore.runtime.liveapp import run_live

        await run_live(daemon)
        return
    while True:
        await asyncio.sleep(PLAIN_EVERY_S)
        if daemon.ticks:
            click.echo(_screen(daemon, details=False) + "\n")


def make_run_command(controllers: dict[str, ControllerFactory], kinds: str) -> click.Command:
    @click.command("run")
    @click.option("--site", "site_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
                  help="the site file (buses, nodes, zones, recipes)")
    @click.option("--historian", "historian_url", help="historian URL (default: the site's [runtime] historian, "
                  "else $FARMCTL_HISTORIAN, else STATE_DIR/history.db)")
    @click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path),
                  help="job store, OPIDs and actuator positions (default: [runtime] state_dir, $FARMCTL_STATE_DIR)")
    @click.option("--live", is_flag=True, help="redraw a live view of every zone on stdout")
    @click.option("--for", "duration_s", type=click.FloatRange(min=0.1), help="stop after this many seconds")
    @click.option("--mqtt", "mqtt_url", help="MQTT broker URL, mqtt://USER@HOST:1883?password_file=PATH (default: "
                  "the site's [runtime] mqtt, else $FARMCTL_MQTT, else no link)")
    def run(site_path: Path, historian_url: str | None, state_dir: Path | None, live: bool,
            duration_s: float | None, mqtt_url: str | None) -> None:
        setup_logging()
        daemon = SiteDaemon(site_path, controllers=controllers, state_dir=state_dir, mqtt=mqtt_url)
        if not daemon.zones:
            raise click.UsageError(f"{site_path}: no {kinds} zones to run")
        daemon.historian = daemon_historian(daemon, historian_url)
        daemon.watchdog = open_watchdog(daemon)
        try:
            asyncio.run(serve_daemon(daemon, live=live, duration_s=duration_s))
        finally:
            daemon.historian.close()
            click.echo(i18n.t("daemon stopped"), err=True)

    run.help = f"Run the daemon of the site's {kinds} zones until stopped (SIGTERM: stop states, then exit)."
    return run
