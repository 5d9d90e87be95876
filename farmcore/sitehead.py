"""A site file's `[site]` table: the site's id, name, place and time zone.

A module of its own so that what needs only where a site is (`farmctl recipe show`: the sun at the site, local
times) reads it without `farmcore.site`, whose profiles reach the field bus: recipes never touch the field bus
(DESIGN.md). `farmcore.site` takes the same table from here.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from farmcore.datafile import StrictFile, parse_toml, read_text, validate

# How long a manual override from the portal or a technician may last on this site. Four hours by default: a
# fan left on for an afternoon, not past the night the recipe must steer [engineering choice]; a site may allow
# up to a day, the command's own ceiling (farmcore.link.messages.MAX_DURATION_S, not imported: this module
# stays light).
DEFAULT_MAX_OVERRIDE_S = 14400.0
MAX_OVERRIDE_CEILING_S = 86400.0


class SiteHead(StrictFile):
    id: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str = ""
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    timezone: str = "Asia/Seoul"
    max_override_s: float = Field(default=DEFAULT_MAX_OVERRIDE_S, gt=0, le=MAX_OVERRIDE_CEILING_S)


class _HeadOnly(StrictFile):
    site: SiteHead


def load_site_head(path: str | Path) -> SiteHead:
    """The `[site]` table of a site file, checked as `load_site` checks it; the rest of the file is not read."""
    data = parse_toml(read_text(path), str(path))
    return validate(_HeadOnly, {k: v for k, v in data.items() if k == "site"}, str(path)).site
