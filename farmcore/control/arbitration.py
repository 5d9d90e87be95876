"""Who decides an actuator's target: safety, then an unexpired manual override, then the recipe.

Interlocks (pairs that must never run together) and hard limits are safety: they are applied after
arbitration and their decisions carry `source="safety"`, keeping the decision they replaced in the reason,
so the trace shows both what was asked and what was done.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

Source = Literal["safety", "override", "recipe"]
Target = float | bool | None  # None: hold where it is (a failsafe "hold", or an unknown position)

PRIORITY: dict[Source, int] = {"safety": 2, "override": 1, "recipe": 0}


@dataclass(frozen=True, slots=True)
class Decision:
    """An actuator target, where it came from and why."""

    target: Target
    source: Source
    reason: str


@dataclass(frozen=True, slots=True)
class Override:
    """A manual override, live while `now < expires_at` (same clock as `now`, seconds)."""

    target: Target
    expires_at: float
    reason: str
    issued_by: str = ""


def arbitrate(recipe: Decision, override: Override | None, safety: Decision | None, now: float) -> Decision:
    """The winning decision: safety, else an unexpired override, else the recipe; the reason names the losers."""
    live = override is not None and now < override.expires_at
    if safety is not None:
        beaten = f"; overrides manual {override.target!r}" if live else ""
        return Decision(safety.target, "safety", f"{safety.reason}{beaten}")
    if live:
        by = f" by {override.issued_by}" if override.issued_by else ""
        return Decision(override.target, "override",
                        f"manual override{by} until {_utc(override.expires_at)}: {override.reason}")
    if override is not None:
        return Decision(recipe.target, recipe.source,
                        f"{recipe.reason} (override expired at {_utc(override.expires_at)})")
    return recipe


def _utc(epoch_s: float) -> str:
    """An override's end as people and logs read it (UTC, to the second), not as an epoch number."""
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_on(target: Target) -> bool:
    """Whether a target runs its actuator: True, or a positive position/power (a hold runs nothing new)."""
    if target is None:
        return False
    return target > 0 if not isinstance(target, bool) else target


def _off(target: Target) -> Target:
    return False if isinstance(target, bool) else 0.0


@dataclass(frozen=True, slots=True)
class Interlock:
    """Two actuators that must never run together (heater and chiller; vent open and vent close).

    When both are asked to run, the higher-priority decision wins; at equal priority `safer` wins.
    """

    safer: str
    other: str
    why: str


def apply_interlocks(targets: dict[str, Decision], rules: list[Interlock] | tuple[Interlock, ...]
                     ) -> dict[str, Decision]:
    """Targets with every interlock conflict resolved: the losing side is forced off, and says why.

    Rules apply in order, each on the result of the ones before, so the outcome is deterministic; a rule
    naming an actuator not in `targets` does nothing.
    """
    out = dict(targets)
    for rule in rules:
        a, b = out.get(rule.safer), out.get(rule.other)
        if a is None or b is None or not (is_on(a.target) and is_on(b.target)):
            continue
        if PRIORITY[b.source] > PRIORITY[a.source]:
            (win, winner), (lose, loser) = (rule.other, b), (rule.safer, a)
            how = f"{winner.source} outranks {loser.source}"
        else:
            (win, winner), (lose, loser) = (rule.safer, a), (rule.other, b)
            how = f"{winner.source} outranks {loser.source}" if winner.source != loser.source else "safer side"
        out[lose] = Decision(_off(loser.target), "safety",
                             f"interlock with {win} ({rule.why}; {how}); wanted {loser.target!r}: {loser.reason}")
    return out


def clamp_to_limits(decision: Decision, lo: float, hi: float) -> Decision:
    """The decision held within the site's hard limits; unchanged if already inside."""
    if decision.target is None or isinstance(decision.target, bool):
        raise TypeError("hard limits apply to numeric targets, not on/off or hold")
    if not lo <= hi:
        raise ValueError(f"lo ({lo}) must not exceed hi ({hi})")
    if not math.isfinite(decision.target):
        raise ValueError(f"target must be finite, got {decision.target}")
    if lo <= decision.target <= hi:
        return decision
    bound, name = (lo, "low") if decision.target < lo else (hi, "high")
    return Decision(bound, "safety",
                    f"hard {name} limit {bound:g}; wanted {decision.target:g} ({decision.source}: {decision.reason})")
