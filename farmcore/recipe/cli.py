"""`farmctl recipe ...`: check recipe files, show the setpoints a recipe yields at an instant.

    recipe check FILE...                                          `ok FILE id@version` per good file; one
                                                                  error line per bad file (stderr); exit 2
                                                                  if any is bad
    recipe show FILE --at DATETIME --site SITE.toml --planted DATE [--json]

`--at` is ISO 8601 (`2026-01-15T06:00`, `...+09:00`, `...Z`); without an offset it is local time at the site
(the site's timezone, Asia/Seoul by default). Output times are local to the site.
"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import click

from farmcore import i18n
from farmcore.cliapp import error_line
from farmcore.errors import BadInput, FarmError
from farmcore.recipe.load import load_recipe
from farmcore.recipe.schema import unused_keys
from farmcore.recipe.timeline import setpoints_at, stage_at
from farmcore.sitehead import load_site_head
from farmcore.sun import sun_times
from farmcore.textui import table

NOT_ACTED_ON = {"en": "kept with the recipe, but no strategy acts on it yet",
                "ko": "레시피에 기록은 되지만 아직 이 값으로 제어하는 전략은 없습니다"}


@click.group("recipe", help="Check recipe files and show the setpoints they yield.")
def recipe() -> None:
    pass


@recipe.command("check", help="Validate recipe files; print errors with file and field.")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
def check(files: tuple[str, ...]) -> None:
    bad = 0
    for file in files:
        try:
            r = load_recipe(file)
        except FarmError as exc:
            bad += 1
            click.echo(error_line(str(exc)), err=True)
            continue
        for key in unused_keys(r):
            click.echo(f"{i18n.t('warning')}: {file}: {key}: {NOT_ACTED_ON[i18n.language()]}", err=True)
        click.echo(f"ok {file} {r.label}")
    if bad:
        sys.exit(2)


def parse_at(text: str, zone: ZoneInfo) -> datetime:
    try:
        at = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(f"--at {text!r}: expected an ISO 8601 time such as 2026-01-15T06:00") from None
    return at.replace(tzinfo=zone) if at.tzinfo is None else at.astimezone(zone)


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise BadInput(f"--planted {text!r}: expected a date such as 2025-09-10") from None


def _show(file: str, at_text: str, site_file: str, planted_text: str, as_json: bool) -> None:
    r = load_recipe(file)
    head = load_site_head(site_file)  # only [site]: recipes never load the field bus a site's nodes need
    try:
        zone = ZoneInfo(head.timezone)
    except (KeyError, ValueError):
        raise BadInput(f"{site_file}: site.timezone: unknown time zone {head.timezone!r}") from None
    at = parse_at(at_text, zone)
    planted = parse_day(planted_text)
    try:
        points = setpoints_at(r, planted, at, head.latitude, head.longitude, zone)
        sunrise, sunset = sun_times(head.latitude, head.longitude, at.date(), zone)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    _, stage, days = stage_at(r, planted, at, zone)
    doc: dict[str, Any] = {
        "recipe": r.recipe.id,
        "version": r.recipe.version,
        "at": at.isoformat(),
        "planted": planted.isoformat(),
        "day": days,
        "stage": stage.name,
        "sunrise": sunrise.isoformat(timespec="minutes"),
        "sunset": sunset.isoformat(timespec="minutes"),
        "setpoints": {
            q: {
                "value": sp.value,
                "unit": sp.unit,
                "stage": sp.stage,
                "period": sp.source_period,
                "period_name": sp.period_name,
                "since": sp.since.isoformat(timespec="minutes"),
                "ramping": sp.ramping,
                "ramp_from": sp.ramp_from,
            }
            for q, sp in points.items()
        },
    }
    if as_json:
        click.echo(json.dumps(doc, ensure_ascii=False))
        return
    click.echo(f"{r.label}  {r.recipe.name_ko or r.recipe.name_en}".rstrip())
    click.echo(f"at {at.isoformat(timespec='minutes')}  day {days} since {planted.isoformat()}  stage {stage.name}")
    click.echo(f"sunrise {sunrise:%H:%M}  sunset {sunset:%H:%M}")
    rows = [
        [
            q,
            f"{round(sp.value, 2):g}",
            sp.unit,
            sp.stage,
            f"{sp.source_period}" + (f" ({sp.period_name})" if sp.period_name else ""),
            f"{sp.since:%m-%d %H:%M}",
            f"ramp from {sp.ramp_from:g}" if sp.ramping and sp.ramp_from is not None else "",
        ]
        for q, sp in points.items()
    ]
    click.echo(table(["quantity", "value", "unit", "stage", "period", "since", "ramping"], rows))


@recipe.command("show", help="Print the setpoints a recipe yields at a time, for a site and a planting date.")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--at", "at_text", required=True, help="ISO 8601 time; local to the site without an offset")
@click.option("--site", "site_file", required=True, type=click.Path(dir_okay=False), help="site TOML file")
@click.option("--planted", "planted_text", required=True, help="planting (or stocking) date, YYYY-MM-DD")
@click.option("--json", "as_json", is_flag=True, help="one JSON document on stdout")
def show(file: str, at_text: str, site_file: str, planted_text: str, as_json: bool) -> None:
    _show(file, at_text, site_file, planted_text, as_json)  # errors: one line from the command line's runner
