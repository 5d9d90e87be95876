"""`farmctl`: the greenhouse controller's command line."""

from __future__ import annotations

from farmcore import techcli
from farmcore.runtime.cli import make_run_command
from farmcore.runtime.daemon import ControllerFactory
from farmctl.controller import for_zone
from farmctl.demo import demo

CONTROLLERS: dict[str, ControllerFactory] = {"greenhouse": for_zone}

cli = techcli.make_group("farmctl", "Rental smart-greenhouse controller: field bus, twin and daemons.")
cli.add_command(demo)
cli.add_command(make_run_command(CONTROLLERS, "greenhouse"))


def main(argv: list[str] | None = None) -> None:
    techcli.run_cli(cli, argv)


if __name__ == "__main__":
    main()
