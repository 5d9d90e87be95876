"""`aquactl`: the aquaculture tank controller's command line."""

from __future__ import annotations

from farmcore import techcli

cli = techcli.make_group("aquactl", "Land-based smart fish-farm controller: field bus, twin and daemons.")


def main(argv: list[str] | None = None) -> None:
    techcli.run_cli(cli, argv)
