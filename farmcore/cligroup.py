"""The top-level group of `farmctl` and `aquactl`: commands imported only when they run.

Every command's module is imported when that command is asked for, so `farmctl --version` and `--help` load no
daemon, scheduler, Modbus or MQTT library (they took 2 s, 5-7 s on a busy box, when every command was imported
up front). The help page lists each command from a short text kept here, checked against the command's own
help by a test. Errors follow the house policy of `farmcore/cliapp.py`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

import click

from farmcore import __version__

Loader = Callable[[], click.Command]


def lazy(path: str) -> Loader:
    """A loader for the command at `module:attribute`, imported when first called."""
    module, _, attribute = path.partition(":")

    def load() -> click.Command:
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command), path
        return command

    return load


# The commands both tools carry: name -> (where it lives, its short help).
SHARED: dict[str, tuple[str, str]] = {
    "bus": ("farmcore.techcli:bus_group", "Commission a bus: find the nodes on it."),
    "read": ("farmcore.techcli:read", "Read every device of a node: value, unit, status and quality."),
    "actuate": ("farmcore.techcli:actuate", "Drive one actuator (KS X 3267 command with a new OPID, then "
                                            "read-back)."),
    "frames": ("farmcore.techcli:frames", "Recent TX/RX frames on a bus in hex (kept per bus across commands)."),
    "twin": ("farmcore.twin.cli:twin", "Serve a simulated site (digital twin) as Modbus nodes until Ctrl-C."),
    "history": ("farmcore.historian.cli:history", "The historian: CSV export (certification) and its state."),
    "recipe": ("farmcore.recipe.cli:recipe", "Check recipe files and show the setpoints they yield."),
    "broker": ("farmcore.link.cli:broker", "The MQTT broker of a site (mosquitto)."),
    "zone": ("farmcore.link.zonecli:zone", "A site's zones over MQTT: status, commands, live messages."),
    "schema": ("farmcore.link.schemacli:schema", "JSON Schema of a zone message on MQTT, for outside tools."),
}


class LazyGroup(click.Group):
    """A group whose commands are imported when asked for; the help page uses their short texts."""

    def __init__(self, *args: Any, lazy_commands: Mapping[str, tuple[Loader, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy_commands:
            self.add_command(self.lazy_commands[cmd_name][0](), cmd_name)
        return super().get_command(ctx, cmd_name)

    def listed_help(self, name: str, limit: int) -> str:
        """A command's line on the help page, without importing it."""
        if name in self.commands:
            return self.commands[name].get_short_help_str(limit)
        return click.Command(name, help=self.lazy_commands[name][1]).get_short_help_str(limit)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        if names:
            limit = formatter.width - 6 - max(len(n) for n in names)
            with formatter.section("Commands"):
                formatter.write_dl([(n, self.listed_help(n, limit)) for n in names])


def make_group(name: str, summary: str, own: Mapping[str, tuple[Loader, str]]) -> LazyGroup:
    """The top-level group of a tool: the shared commands plus its `own` (name -> (loader, short help))."""
    commands = {n: (lazy(path), text) for n, (path, text) in SHARED.items()} | dict(own)

    @click.group(name, cls=LazyGroup, lazy_commands=commands, help=summary,
                 context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(__version__, prog_name=name)
    @click.option("--debug", is_flag=True, hidden=True, help="show tracebacks of unexpected errors")
    def group(debug: bool) -> None:
        pass

    assert isinstance(group, LazyGroup)
    return group
