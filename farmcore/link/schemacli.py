"""`farmctl schema NAME` (also `aquactl schema`): the JSON Schema of a zone message, for outside tools."""

from __future__ import annotations

import json

import click

from farmcore.link.schemas import NAMES, schema_of


@click.command("schema")
@click.argument("name", type=click.Choice(NAMES), metavar="NAME")
def schema(name: str) -> None:
    """JSON Schema of a zone message on MQTT, for outside tools.

    NAME: state, alarms (retained, from the daemon), event, command (to the daemon) or ack (its answer).
    """
    click.echo(json.dumps(schema_of(name), ensure_ascii=False, indent=2))
