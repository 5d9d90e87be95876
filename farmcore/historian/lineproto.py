"""InfluxDB line protocol for historian points: our own encoder, one line per `Point`.

    <kind>,name=<name>,quality=<q>,site=<site>,zone=<zone>[,<tag>=<v>...] <field>=<value>[,...] <time_ns>

* measurement = the point's kind (`sensor`, `setpoint`, `actuator`, `event`);
* tags: `site`, `zone`, `name`, `quality` (left out when None) and the point's own tags, sorted by key (what
  InfluxDB recommends); a tag whose value is empty is left out (line protocol has no empty tag values);
* fields: float as Python's shortest round-trip repr (`23.4`, `1e-05`), int with the `i` suffix (`3i`, int64
  range only), bool as `true`/`false`, str quoted; NaN and infinities are not representable and are left
  out (as influxdb-client does); a point with no field left is refused;
* timestamp: the sample time in nanoseconds since the Unix epoch, exact (integer arithmetic, no float);
* `int_as_float=True` (what the InfluxDB back-end uses) writes integers as floats and lists their field names
  in the tag `int_fields`, see `encode`.

Escaping (InfluxDB 2 line protocol reference, "Special characters"): measurement: comma and space; tag keys,
tag values and field keys: comma, equals sign and space; string field values: double quote and backslash.
Newline, carriage return and tab in keys and tag values are written as the two characters `\\n`, `\\r`,
`\\t` (as influxdb-client does: line protocol cannot carry them); in string fields a newline or carriage
return is written the same way, so an event message comes back with a literal `\\n`. Non-ASCII text (Korean
names) is written as UTF-8 unchanged.

Backslashes: InfluxDB keeps a backslash in a key or tag value literally unless it precedes a character that
needs escaping, while VictoriaMetrics also reads `\\\\` as one backslash. A backslash at the end of a key or
tag value, or before a comma, equals sign, space or another backslash, would therefore be read differently
(or break the line), so such points are refused with ValueError; any other backslash passes unchanged.
Keys starting with `_` are reserved by InfluxDB 2 (`_field`, `_measurement`, `_time`, ...) and refused, as is
a point tag that would replace `site`, `zone`, `name`, `quality` or `int_fields`.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from farmcore.historian.base import Point

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
INT_FIELDS_TAG = "int_fields"
RESERVED_TAGS = frozenset({"site", "zone", "name", "quality", INT_FIELDS_TAG})

_MEASUREMENT = str.maketrans({",": r"\,", " ": r"\ ", "\n": r"\n", "\r": r"\r", "\t": r"\t"})
_KEY = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\n", "\r": r"\r", "\t": r"\t"})
_STRING = str.maketrans({'"': r"\"", "\\": "\\\\", "\n": r"\n", "\r": r"\r"})
_AMBIGUOUS_BACKSLASH = re.compile(r"\\(?=[,= \\]|$)")

# Tag keys and values repeat on every tick (site, zone, quantity names): cache their escaped form.
_escaped_cache: dict[str, str] = {}
_prefix_cache: dict[tuple, str] = {}
_head_cache: dict[tuple, str] = {}  # "<series prefix> <field key>=" of single-float points
_last_time: tuple[datetime | None, int] = (None, 0)  # (time, ns) of the last single-float point: a tick shares one
_CACHE_MAX = 50_000


def escape_measurement(text: str) -> str:
    _check_backslashes(text, "measurement")
    return text.translate(_MEASUREMENT)


def escape_key(text: str, what: str = "key") -> str:
    """A tag key, tag value or field key."""
    cached = _escaped_cache.get(text)
    if cached is not None:
        return cached
    if not text:
        raise ValueError(f"empty {what}")
    _check_backslashes(text, what)
    escaped = text.translate(_KEY)
    if len(_escaped_cache) >= _CACHE_MAX:
        _escaped_cache.clear()
    _escaped_cache[text] = escaped
    return escaped



def _check_backslashes(text: str, what: str) -> None:
    if "\\" in text and _AMBIGUOUS_BACKSLASH.search(text):
        raise ValueError(f"{what} {text!r}: a backslash at the end or before , = space or \\ is read "
                         "differently by InfluxDB and VictoriaMetrics")


def timestamp_ns(time: datetime) -> int:
    """Nanoseconds since the Unix epoch, exact."""
    delta = time - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def format_field_value(value: object, *, int_as_float: bool = False) -> str | None:
    """The field value as line protocol, or None when it cannot be represented (NaN, infinity)."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        return repr(float(value)) if math.isfinite(value) else None
    if isinstance(value, str):
        return f'"{value.translate(_STRING)}"'
    if isinstance(value, numbers.Integral):
        number = int(value)
        if int_as_float:
            return repr(float(number))
        if not INT64_MIN <= number <= INT64_MAX:
            raise ValueError(f"integer {number} outside the int64 range of line protocol")
        return f"{number}i"
    if isinstance(value, numbers.Real):
        number = float(value)
        return repr(number) if math.isfinite(number) else None
    raise ValueError(f"field value {value!r} of type {type(value).__name__} is not a number, bool or str")


def series_prefix(point: Point, int_fields: str = "") -> str:
    """`<kind>,<tags>` for a point: its series identity in line protocol (cached, since the same series
    repeat on every tick). `int_fields`: the value of the INT_FIELDS_TAG, if any."""
    key = (point.kind, point.site, point.zone, point.name, point.quality,
           tuple(point.tags.items()) if point.tags else (), int_fields)
    prefix = _prefix_cache.get(key)
    if prefix is None:
        prefix = _series_prefix(point, int_fields)
        if len(_prefix_cache) >= _CACHE_MAX:
            _prefix_cache.clear()
        _prefix_cache[key] = prefix
    return prefix


def _series_prefix(point: Point, int_fields: str) -> str:
    for key in point.tags:
        if key in RESERVED_TAGS:
            raise ValueError(f"point {point.name}: tag {key!r} would replace the point's own {key}")
    tags: dict[str, str] = {"site": point.site, "zone": point.zone, "name": point.name}
    if point.quality:
        tags["quality"] = point.quality
    for key, value in point.tags.items():
        if value:
            tags[key] = value
    if int_fields:
        tags[INT_FIELDS_TAG] = int_fields
    tag_parts = []
    for key in sorted(tags):
        if key.startswith("_"):
            raise ValueError(f"point {point.name}: tag key {key!r} starts with _ (reserved by InfluxDB 2)")
        tag_parts.append(f"{escape_key(key, 'tag key')}={escape_key(tags[key], 'tag ' + key)}")
    return f"{escape_measurement(point.kind)},{','.join(tag_parts)}"


def encode(point: Point, *, int_as_float: bool = False) -> str:
    """One line of line protocol (no trailing newline). Raises ValueError for a point that cannot be written
    faithfully.

    `int_as_float` writes integer fields as floats and names them in the tag `int_fields` (sorted, comma
    separated), so that a field never changes type in InfluxDB (which refuses a value whose type differs from
    what the measurement's field already holds in that shard: an actuator `target` of 1 for a heater and 35.5
    for a vent) while a reader can still give the integers back as integers."""
    global _last_time
    fields = point.fields
    if len(fields) == 1:  # the common case: one finite float ("value"), all of a tick at the same time
        ((key, value),) = fields.items()
        if type(value) is float and value - value == 0.0:
            head = _head_cache.get((point.kind, point.site, point.zone, point.name, point.quality,
                                    tuple(point.tags.items()) if point.tags else (), key))
            if head is not None:
                when, last = point.time, _last_time
                if last[0] is when:
                    return f"{head}{value!r} {last[1]}"
                ns = timestamp_ns(when)
                _last_time = (when, ns)  # one reference, swapped atomically: safe between threads
                return f"{head}{value!r} {ns}"
            if key in _escaped_cache and key[:1] != "_":
                head = f"{series_prefix(point)} {_escaped_cache[key]}="
                if len(_head_cache) >= _CACHE_MAX:
                    _head_cache.clear()
                _head_cache[(point.kind, point.site, point.zone, point.name, point.quality,
                             tuple(point.tags.items()) if point.tags else (), key)] = head
                return f"{head}{value!r} {timestamp_ns(point.time)}"
    field_parts = []
    ints = []
    for key, value in fields.items():
        text = format_field_value(value, int_as_float=int_as_float)
        if text is None:
            continue
        if key[:1] == "_":
            raise ValueError(f"point {point.name}: field key {key!r} starts with _ (reserved by InfluxDB 2)")
        if int_as_float and isinstance(value, numbers.Integral) and not isinstance(value, bool):
            ints.append(key)
        field_parts.append(f"{escape_key(key, 'field key')}={text}")
    if not field_parts:
        raise ValueError(f"point {point.name}: no field with a finite value")
    prefix = series_prefix(point, ",".join(sorted(ints)))
    return f"{prefix} {','.join(field_parts)} {timestamp_ns(point.time)}"


def encode_many(points: Iterable[Point], *, int_as_float: bool = False) -> tuple[list[str], list[tuple[Point, str]]]:
    """Lines for the points that can be written, and (point, reason) for those that cannot."""
    lines: list[str] = []
    refused: list[tuple[Point, str]] = []
    for point in points:
        try:
            lines.append(encode(point, int_as_float=int_as_float))
        except ValueError as exc:
            refused.append((point, str(exc)))
    return lines, refused


def tags_of(point: Point, *, int_as_float: bool = False) -> Mapping[str, str]:
    """The tags `encode` writes for a point (series identity), for tests and diagnostics."""
    tags = {"site": point.site, "zone": point.zone, "name": point.name}
    if point.quality:
        tags["quality"] = point.quality
    tags.update({k: v for k, v in point.tags.items() if v})
    if int_as_float:
        ints = sorted(k for k, v in point.fields.items() if isinstance(v, numbers.Integral) and not isinstance(v, bool))
        if ints:
            tags[INT_FIELDS_TAG] = ",".join(ints)
    return dict(sorted(tags.items()))
