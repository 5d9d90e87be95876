"""`farmctl`: the greenhouse controller's command line (each command is imported when it runs)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from farmcore import cliapp, cligroup

if TYPE_CHECKING:
    from farmcore.runtime.controller import ControllerFactory

KINDS = ("greenhouse",)


def controllers() -> dict[str, ControllerFactory]:
    """Zone kind -> controller factory, imported when a daemon starts (`farmctl --version` stays fast)."""
    from farmctl.controller import for_zone

    return {"greenhouse": for_zone}


def _run() -> click.Command:
    from farmcore.runtime.cli import make_run_command

    return make_run_command(controllers(), "greenhouse")


def _site() -> click.Command:
    from farmcore.sitecheck import make_site_group

    return make_site_group(KINDS)


cli = cligroup.make_group("farmctl", "Rental smart-greenhouse controller: field bus, twin and daemons.", {
    "run": (_run, "Run the daemon of the site's greenhouse zones until stopped (SIGTERM: stop states, then exit)."),
    "demo": (cligroup.lazy("farmctl.demo:demo"), "Twin site + greenhouse daemon + SQLite historian with a live view "
                                               "(Ctrl-C stops it)."),
    "site": (_site, "Check a site file the way the daemon does at start."),
    "portal": (cligroup.lazy("portal.cli:portal"), "The tenant portal's admin work: users, leases, sites and the "
                                                   "audit log."),
})


def __getattr__(name: str) -> Any:
    """`CONTROLLERS`, as tests and benchmarks import it, made on first use."""
    if name == "CONTROLLERS":
        return controllers()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: list[str] | None = None) -> None:
    cliapp.run_cli(cli, argv)


if __name__ == "__main__":
    main()
