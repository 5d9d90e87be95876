"""Zone controllers by zone kind, found through the `farmcore.controllers` entry points.

farmctl (greenhouses) and aquactl (tanks) never import each other; a daemon that runs a whole site (the
demo) finds both here. Each entry point names a callable taking the zone's `ZoneDef`.
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

from farmcore.runtime.controller import ControllerFactory

GROUP = "farmcore.controllers"
log = logging.getLogger(__name__)


def installed(kinds: tuple[str, ...] | None = None) -> dict[str, ControllerFactory]:
    """{zone kind: controller factory} of the installed packages (all, or those of `kinds`)."""
    found: dict[str, ControllerFactory] = {}
    for ep in entry_points(group=GROUP):
        if kinds is None or ep.name in kinds:
            try:
                found[ep.name] = ep.load()
            except ImportError as exc:  # a half-installed package must not stop the other kind's zones
                log.warning("controller for %s zones (%s) cannot be loaded: %s", ep.name, ep.value, exc)
    return found
