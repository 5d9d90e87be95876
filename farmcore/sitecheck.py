"""`farmctl site check SITE.toml` (and `aquactl site check`): the checks the daemon makes at start, run alone.

The site file is loaded by `load_site` and every recipe a zone names by `load_zone_recipe`, the functions the
daemon itself calls at start and on reload, so the check and the daemon can never disagree: references, hard
limits, actuator ownership across zones, the time zone, the GPIO pin factory, GPIO pins used twice, each
recipe's own rules, its kind against the zone's and a planting date. No bus is opened, no GPIO pin claimed,
nothing runs. Every zone's recipe is checked, not only those of this tool's kind: the site file is one file
for both daemons and the twin. Exit 0 with a short summary, or 2 with one line naming file, field and what
is allowed. Broker and historian URLs are left to the daemon: they may name secrets only its account reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from farmcore import i18n
from farmcore.errors import BadInput
from farmcore.recipe.schema import Recipe
from farmcore.recipe.zonerecipe import load_zone_recipe
from farmcore.site import SiteFile, load_site
from farmcore.siterules import shared_sensors


@dataclass(frozen=True)
class ZoneReport:
    id: str
    kind: str
    recipe: Recipe | None
    recipe_path: Path | None


@dataclass(frozen=True)
class SiteReport:
    path: Path
    site: SiteFile
    zones: list[ZoneReport]
    warnings: list[str]


def check_site(path: Path, kinds: tuple[str, ...]) -> SiteReport:
    """Every start-up check of the daemon for zones of `kinds`; the first problem raises (ConfigError, exit 2)."""
    site = load_site(path)
    zones = []
    warnings = shared_sensors(site)
    for index, zone in enumerate(site.zones):
        recipe, recipe_path = load_zone_recipe(path, f"zones[{index}]", zone) if zone.recipe else (None, None)
        zones.append(ZoneReport(zone.id, zone.kind, recipe, recipe_path))
    if not any(z.kind in kinds for z in zones):
        raise BadInput(f"{path}: no {' or '.join(kinds)} zones to run")
    return SiteReport(path, site, zones, warnings)


def as_dict(report: SiteReport, kinds: tuple[str, ...]) -> dict[str, Any]:
    site = report.site
    return {
        "ok": True, "file": str(report.path), "site": site.site.id, "timezone": site.site.timezone,
        "buses": [{"id": b.id, "url": b.url} for b in site.buses], "nodes": len(site.nodes),
        "zones": [{"id": z.id, "kind": z.kind, "runs": z.kind in kinds,
                   "recipe": None if z.recipe is None else z.recipe.label,
                   "recipe_file": None if z.recipe_path is None else str(z.recipe_path)} for z in report.zones],
        "warnings": report.warnings,
    }


def summary(report: SiteReport, kinds: tuple[str, ...]) -> str:
    site = report.site
    planted = {z.id: z.planted for z in site.zones}

    def zone_text(z: ZoneReport) -> str:
        if z.recipe is None:
            return f"{z.id} ({i18n.t('no recipe')})"
        return f"{z.id} {z.recipe.label} ({i18n.t('planted')} {planted[z.id]})"

    runs = [zone_text(z) for z in report.zones if z.kind in kinds]
    others = [z.id for z in report.zones if z.kind not in kinds]
    lines = [f"{i18n.t('site check ok')} {report.path}: {i18n.t('site')} {site.site.id} ({site.site.timezone})",
             f"  {i18n.t('buses')}: {', '.join(f'{b.id} {b.url}' for b in site.buses)}; "
             f"{i18n.t('nodes')}: {len(site.nodes)}",
             f"  {i18n.t('zones this daemon runs')}: {', '.join(runs)}"]
    if others:
        lines.append(f"  {i18n.t('zones of the other daemon')}: {', '.join(others)}")
    return "\n".join(lines)


def make_site_group(kinds: tuple[str, ...]) -> click.Group:
    """`site check` for a tool whose daemon runs zones of `kinds`."""

    @click.group("site")
    def site() -> None:
        """Check a site file the way the daemon does at start."""

    @site.command("check")
    @click.argument("site_file", metavar="SITE.toml", type=click.Path(path_type=Path))
    @click.option("--json", "as_json", is_flag=True, help="print one JSON document on stdout")
    def check(site_file: Path, as_json: bool) -> None:
        """Every check the daemon makes at start (recipes included), without opening a bus or running anything."""
        report = check_site(site_file, kinds)
        for warning in report.warnings:
            click.echo(f"{i18n.t('warning')}: {warning}", err=True)
        click.echo(json.dumps(as_dict(report, kinds), ensure_ascii=False) if as_json else summary(report, kinds))

    return site
