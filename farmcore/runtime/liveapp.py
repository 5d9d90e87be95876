"""The live view on a terminal: rich's `Live` on the alternate screen, keys read without blocking the loop.

Keys (only when stdin is a terminal): a digit opens that zone's details, ↑↓ pick a zone (scroll in the
details), ←→ the next zone, PgUp/PgDn a page, Enter toggles details, Esc goes back. Ctrl-C still stops the
daemon (the terminal stays in cbreak mode, signals on). While the view owns the screen, log lines that would
go to the same terminal are written to STATE_DIR/live.log instead of tearing the picture.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from rich.console import Console
from rich.live import Live

from farmcore import i18n
from farmcore.runtime.liveview import LiveScreen, ViewState

if TYPE_CHECKING:
    from farmcore.runtime.daemon import SiteDaemon

SEQUENCES = {"\x1b[A": "up", "\x1b[B": "down", "\x1b[C": "right", "\x1b[D": "left", "\x1bOA": "up",
             "\x1bOB": "down", "\x1bOC": "right", "\x1bOD": "left", "\x1b[5~": "pgup", "\x1b[6~": "pgdn",
             "\r": "enter", "\n": "enter", "\x1b": "esc"}
REDRAW_S = 1.0


def parse_keys(data: str) -> list[str]:
    """Key names in a chunk read from the terminal: escape sequences, Enter, Esc, digits; the rest ignored."""
    keys, i = [], 0
    while i < len(data):
        for seq in sorted(SEQUENCES, key=len, reverse=True):
            if data.startswith(seq, i):
                keys.append(SEQUENCES[seq])
                i += len(seq)
                break
        else:
            if data[i].isdigit():
                keys.append(data[i])
            i += 1
    return keys


def apply_key(state: ViewState, key: str, zones: int, page: int) -> None:
    """Move the view as the key asks (pure: the tests drive it)."""
    if key.isdigit():
        if 1 <= int(key) <= zones:
            state.selected, state.detail, state.scroll = int(key) - 1, True, 0
    elif key in ("enter", "esc"):
        state.detail = key == "enter" and not state.detail
        state.scroll = 0
    elif state.detail and key in ("up", "down", "pgup", "pgdn"):
        step = {"up": -1, "down": 1, "pgup": -page, "pgdn": page}[key]
        state.scroll = max(0, state.scroll + step)
    elif key in ("up", "down", "left", "right"):
        step = -1 if key in ("up", "left") else 1
        state.selected = (state.selected + step) % max(zones, 1)
        state.scroll = 0


class KeyReader:
    """Reads keys from a terminal stdin on the event loop (`add_reader`), in cbreak mode, restored on exit."""

    def __init__(self, on_key: Callable[[str], None], stream: TextIO | None = None) -> None:
        self.on_key = on_key
        self.stream = stream or sys.stdin
        self._saved: list | None = None  # type: ignore[type-arg]

    def __enter__(self) -> KeyReader:
        if not self.stream.isatty():
            return self
        import termios
        import tty

        fd = self.stream.fileno()
        self._saved = termios.tcgetattr(fd)
        tty.setcbreak(fd)
        asyncio.get_running_loop().add_reader(fd, self._ready, fd)
        return self

    def _ready(self, fd: int) -> None:
        for key in parse_keys(os.read(fd, 64).decode(errors="ignore")):
            self.on_key(key)

    def __exit__(self, *_exc: object) -> None:
        if self._saved is None:
            return
        import termios

        fd = self.stream.fileno()
        asyncio.get_running_loop().remove_reader(fd)
        termios.tcsetattr(fd, termios.TCSADRAIN, self._saved)
        self._saved = None


@contextlib.contextmanager
def log_aside(path: Path) -> Iterator[list[Path]]:
    """Log handlers writing to a terminal write to `path` meanwhile; the list gets the path on the way out when
    anything was written there."""
    moved: list[tuple[logging.StreamHandler[TextIO], TextIO]] = []
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
            stream = handler.stream
            if hasattr(stream, "isatty") and stream.isatty():
                moved.append((handler, stream))
    written: list[Path] = []
    if not moved:
        yield written
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as file:
        start = file.tell()
        for handler, _stream in moved:
            handler.setStream(file)
        try:
            yield written
        finally:
            for handler, stream in moved:
                handler.setStream(stream)
            if file.tell() > start:
                written.append(path)


async def run_live(daemon: SiteDaemon, console: Console | None = None, *, redraw_s: float = REDRAW_S) -> None:
    """Draw the live view until cancelled: once a second, and at once on a key."""
    console = console or Console()
    state = ViewState()
    wake = asyncio.Event()

    def on_key(key: str) -> None:
        apply_key(state, key, len(daemon.zones), max(1, console.height - 4))
        wake.set()

    live = Live(LiveScreen(daemon, state), console=console, screen=True, auto_refresh=False, redirect_stdout=False,
                redirect_stderr=False)
    aside: list[Path] = []
    try:
        with log_aside(daemon.state_dir / "live.log") as aside, KeyReader(on_key), live:
            while True:  # until cancelled
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), redraw_s)
                wake.clear()
                if daemon.ticks:
                    live.refresh()
    finally:
        if aside:
            console.print(f"{i18n.t('log while live')}: {aside[0]}", highlight=False)
