"""The tank's biomass estimate: the stocking count times a mean weight that grows with the feed given.

Feeding by table needs the biomass (ration = biomass x %BW/d), and nobody weighs a whole tank, so the
estimate starts from the stocking record (`ZoneDef.stocking`: count and mean weight on `planted`), adds
feed / FCR as feed goes in, and is corrected by sample weighings (a `weighing` request: the mean weight of a
sample, in g), which keep the count. Mortality is not modelled: dead fish are not counted here, so between
weighings the estimate drifts high by the losses (a tenant's mortality log would fix that; not yet wired).
Growth is booked when the feed is given, not spread over digestion: the estimate serves daily rations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FCR = 1.2  # kg feed per kg growth when the recipe gives none [engineering choice]; twin species 1.1-1.6


@dataclass
class Biomass:
    """Count (fish) and mean weight (g); growth by feed / FCR, reset by weighing."""

    count: int
    mean_weight_g: float

    def __post_init__(self) -> None:
        if self.count <= 0 or self.mean_weight_g <= 0:
            raise ValueError(f"count and mean weight must be positive, got {self.count} x {self.mean_weight_g} g")

    @property
    def biomass_kg(self) -> float:
        return self.count * self.mean_weight_g / 1000.0

    def feed(self, kg: float, fcr: float | None = None) -> float:
        """Book `kg` of feed given (negative: a correction of feed booked but not delivered); returns the
        growth in kg. A correction never takes the mean weight below a gram's thousandth."""
        gain_kg = kg / (fcr if fcr and fcr > 0 else FCR)
        self.mean_weight_g = max(self.mean_weight_g + gain_kg * 1000.0 / self.count, 1e-3)
        return gain_kg

    def weigh(self, mean_weight_g: float) -> float:
        """A sample weighing: the mean weight becomes `mean_weight_g` (count kept); returns the old weight."""
        if not mean_weight_g > 0:
            raise ValueError(f"a weighing must be a positive mean weight in g, got {mean_weight_g}")
        old, self.mean_weight_g = self.mean_weight_g, float(mean_weight_g)
        return old

    def state(self) -> dict[str, Any]:
        return {"count": self.count, "mean_weight_g": self.mean_weight_g}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Biomass:
        return cls(int(state["count"]), float(state["mean_weight_g"]))
