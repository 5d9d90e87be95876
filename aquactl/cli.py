"""`aquactl`: the aquaculture tank controller's command line."""

from __future__ import annotations

from aquactl.controller import TankController
from farmcore import techcli
from farmcore.runtime.cli import make_run_command
from farmcore.runtime.daemon import ControllerFactory

CONTROLLERS: dict[str, ControllerFactory] = {"tank": TankController}

cli = techcli.make_group("aquactl", "Land-based smart fish-farm controller: field bus, twin and daemons.")
cli.add_command(make_run_command(CONTROLLERS, "tank"))


def main(argv: list[str] | None = None) -> None:
    techcli.run_cli(cli, argv)


if __name__ == "__main__":
    main()
