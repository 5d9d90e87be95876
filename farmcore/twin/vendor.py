"""Simulated vendor Modbus devices (probes, relay boards), built from the controller's vendor profiles.

A vendor device has no KS semantics: it is its points, served from the table each point's function
code addresses. A relay board only switches coils when told (FC5/FC15); timers, interlock and dead
time are the controller's job (farmcore.fieldbus.vendor), so the twin shows exactly what the
controller drove, which is what a plant model behind a relay board needs to see.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from farmcore.fieldbus.profile import Profile, WriteTarget
from farmcore.twin.registers import TABLE_OF_FC, TABLES, RegisterDevice, Table

PointValue = float | Sequence[int | bool]


def _runs(cells: Mapping[int, bool]) -> Iterator[tuple[int, int, bool]]:
    """(start, count, writable) runs of consecutive addresses that share writability."""
    run: list[int] = []
    for address in sorted(cells):
        if run and (address != run[-1] + 1 or cells[address] != cells[run[0]]):
            yield run[0], len(run), cells[run[0]]
            run = []
        run.append(address)
    if run:
        yield run[0], len(run), cells[run[0]]


class VendorDevice(RegisterDevice):
    """The points of a vendor profile as registers or bits; coils and relay write targets are writable."""

    def __init__(self, profile: Profile, values: Mapping[str, PointValue] | None = None) -> None:
        super().__init__()
        if profile.kind != "vendor":
            raise ValueError(f"profile {profile.id} is a {profile.kind} profile, not a vendor profile")
        self.profile = profile
        self.offset = profile.encoding.address_offset
        self._points = {p.id: p for p in profile.points}
        cells: dict[Table, dict[int, bool]] = {t: {} for t in TABLES}  # address -> writable
        for point in profile.points:
            table = TABLE_OF_FC[point.fc]
            for address in range(point.item.register, point.item.register + point.register_count):
                cells[table][address] = table == "coils"
        for _name, target in self._roles():
            cells[TABLE_OF_FC[target.fc]][target.register] = True
        for table, addresses in cells.items():
            for start, count, writable in _runs(addresses):
                self.define(table, start + self.offset, count, writable=writable)
        for point_id, value in (values or {}).items():
            self.set_point(point_id, value)

    def _roles(self) -> Iterator[tuple[str, WriteTarget]]:
        """Relay outputs the profile's emulated actuators drive, named `actuator.role`."""
        for actuator in self.profile.actuators:
            for role in ("on", "open", "close"):
                target = getattr(actuator, role)
                if target is not None:
                    yield f"{actuator.id}.{role}", target

    def set_point(self, point_id: str, value: PointValue) -> None:
        """A new measurement (engineering units, scaled as the profile says) or, for coils, all the bits."""
        point = self._points.get(point_id)
        if point is None:
            raise ValueError(f"{self.profile.id} has no point {point_id!r}; it has {', '.join(self._points)}")
        if point.item.type == "bits":
            if isinstance(value, int | float) or len(value) != point.count:
                raise ValueError(f"point {point_id!r} takes {point.count} bits")
            regs = [1 if bit else 0 for bit in value]
        elif isinstance(value, int | float):
            regs = point.item.encode(value)
        else:
            raise ValueError(f"point {point_id!r} takes one number")
        self.set(TABLE_OF_FC[point.fc], point.item.register + self.offset, regs)

    def outputs(self) -> dict[str, bool]:
        """Every relay output: named by what it drives (`side_window_1.open`, `fan_1.on`), other coils by
        point and index (`relays[7]`), so the plant model needs no register numbers."""
        out: dict[str, bool] = {}
        named: set[tuple[Table, int]] = set()
        for name, target in self._roles():
            table = TABLE_OF_FC[target.fc]
            out[name] = bool(self.read(table, target.register + self.offset)[0])
            named.add((table, target.register))
        for point in self.profile.points:
            if TABLE_OF_FC[point.fc] != "coils":
                continue
            bits = self.read("coils", point.item.register + self.offset, point.count)
            for i, bit in enumerate(bits):
                if ("coils", point.item.register + i) not in named:
                    out[f"{point.id}[{i}]"] = bool(bit)
        return out
