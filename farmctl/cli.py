"""`farmctl`: the greenhouse controller's command line."""

from __future__ import annotations

from farmcore import techcli
from farmctl.demo import demo

cli = techcli.make_group("farmctl", "Rental smart-greenhouse controller: field bus, twin and daemons.")
cli.add_command(demo)


def main(argv: list[str] | None = None) -> None:
    techcli.run_cli(cli, argv)


if __name__ == "__main__":
    main()
