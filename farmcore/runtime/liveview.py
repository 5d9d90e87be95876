"""The daemon's live view, drawn with rich: a site overview that fits the terminal, a zone's details on a key.

The overview gives every zone one to three lines (name, stage, mode, alarms; key readings against the setpoint
in force; what runs and how far each vent and screen is open), as many as the terminal's height allows, then
the latest events. The details of one zone list every reading and every actuator with its whole reason,
wrapped, scrolled when longer than the screen. `render()` is the same content as plain text at 80 columns,
for logs, `--no-live` and the screen printed after a stop. The words come from `viewmodel`.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from farmcore import i18n
from farmcore.runtime.viewmodel import ActuatorRow, ReadingRow, SiteView, ZoneView, snapshot

if TYPE_CHECKING:
    from farmcore.runtime.daemon import SiteDaemon

MODE_STYLE = {"auto": "green", "override": "yellow", "safety": "bold red"}
SOURCE_MARK = {"override": "*", "safety": "!", "recipe": ""}
INDENT = "    "


@dataclass
class ViewState:
    """What the keys chose: the selected zone (index), whether its details are open, how far they are scrolled."""

    selected: int = 0
    detail: bool = False
    scroll: int = 0


class OneLine:
    """Exactly one screen line of a renderable: never wrapped (a `print` would wrap a no_wrap Text), cut with
    an ellipsis when the terminal is too narrow."""

    def __init__(self, renderable: RenderableType) -> None:
        self.renderable = renderable

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = console.render_lines(self.renderable, options.update(no_wrap=True, overflow="ellipsis", height=None),
                                     pad=False)
        yield from lines[0] if lines else []
        yield Segment.line()


def line(*parts: str | tuple[str, str]) -> OneLine:
    return OneLine(Text.assemble(*parts, no_wrap=True, overflow="ellipsis"))


def two_sided(left: Text, right: Text) -> OneLine:
    """A line with `right` flush right; `left` gives way (ellipsis) when both do not fit."""
    grid = Table.grid(expand=True)
    grid.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
    grid.add_column(justify="right", no_wrap=True)
    grid.add_row(left, right)
    return OneLine(grid)


def mode_text(zone: ZoneView, lang: str) -> Text:
    mode = i18n.t("auto" if zone.mode == "auto" else zone.mode, lang)
    held = f" {zone.held}" if zone.mode != "auto" else ""
    alarms = f"  {i18n.t('alarms', lang)} {len(zone.alarms)}"
    return Text.assemble((mode + held, MODE_STYLE[zone.mode]), (alarms, "bold red" if zone.alarms else ""))


def reading_text(r: ReadingRow) -> tuple[str, str]:
    if not r.good:
        return f"{r.short} {r.value}({r.quality})", "red"
    sp = f"/{r.in_force}" if r.in_force else ""
    unit = f" {r.unit}" if r.unit else ""
    return f"{r.short} {r.value}{sp}{unit}", ""


def actuator_summary(acts: Iterable[ActuatorRow], lang: str) -> str:
    """What runs (switches that are on; `3/4` of a role with several) and every retractable's % open."""
    roles: dict[str, list[ActuatorRow]] = {}
    for a in acts:
        roles.setdefault(a.role, []).append(a)
    running, opened, held = [], [], []
    for group in roles.values():
        label = group[0].label
        marks = "".join(sorted({SOURCE_MARK[a.source] for a in group}))
        if any(a.position is not None for a in group):
            opened.append(f"{label}{marks} " + "/".join("?" if a.position is None else f"{a.position:.0f}"
                                                         for a in group))
            continue
        on = sum(bool(a.on) for a in group)
        if on:
            running.append(f"{label}{marks}" + (f" {on}/{len(group)}" if len(group) > 1 else ""))
        elif marks:  # off or held by safety or an override: worth seeing
            held.append(f"{label}{marks} {group[0].state}")
    parts = []
    if running:
        parts.append(f"{i18n.t('on', lang)}: {' '.join(running)}")
    if opened:
        parts.append(f"{i18n.t('open %', lang)}: {' '.join(opened)}")
    return "  ".join(parts + held) or "-"


def zone_lines(zone: ZoneView, number: int, lines: int, lang: str, selected: bool) -> list[RenderableType]:
    """A zone in the overview in `lines` lines (1-3)."""
    style = "reverse" if selected else ""
    title = Text.assemble((f"[{number}] ", "bold"), (zone.id, "bold cyan"), f" {zone.name}", style=style)
    readings = [reading_text(r) for r in zone.key]
    acts = actuator_summary(zone.actuators, lang)
    if lines == 1:
        row = Text.assemble(title, "  ", *[(t + "  ", s) for t, s in readings[:2]])
        return [two_sided(row, mode_text(zone, lang))]
    if zone.stage:
        title.append(f"  {zone.stage}", style="dim" if not selected else style)
    out: list[RenderableType] = [two_sided(title, mode_text(zone, lang))]
    joined: list[str | tuple[str, str]] = [INDENT]
    for text, st in readings:
        joined += [(text, st), "  "]
    if lines == 2:
        out.append(line(*joined, ("| " + acts, "dim")))
    else:
        out += [line(*joined), line(INDENT, (acts, "dim"))]
    return out


def header_lines(view: SiteView, width: int) -> list[RenderableType]:
    out: list[RenderableType] = [two_sided(Text(view.title, style="bold"), Text(f"{view.time}  {view.ticks}"))]
    mqtt = view.mqtt
    if view.watch and len(mqtt) + len(view.watch) + 5 <= width:
        mqtt = f"{mqtt}  ({view.watch})"
    if mqtt and Text(f"{mqtt}    {view.weather}").cell_len <= width:
        out.append(line((mqtt, "magenta"), "    ", view.weather))
    else:
        out += [line((mqtt, "magenta"))] if mqtt else []
        out += [line(view.weather)] if view.weather else []
    return out


def overview(view: SiteView, width: int, height: int, state: ViewState, lang: str) -> list[RenderableType]:
    """Exactly the lines that fit: header, zones (3, 2 or 1 lines each, a window around the selected one if even
    one line each is too many), events in what is left, the keys last."""
    head = header_lines(view, width)
    room = height - len(head) - 1
    n = len(view.zones)
    per = next((k for k in (3, 2, 1) if n * k + (2 if k > 1 else 0) <= room), 1)
    shown = range(n)
    if n > room:
        first = min(max(0, state.selected - room // 2), max(0, n - room + 1))
        shown = range(first, min(n, first + room - 1))
    body: list[RenderableType] = []
    for i in shown:
        body += zone_lines(view.zones[i], i + 1, per, lang, i == state.selected)
    if len(shown) < n:
        body.append(line((i18n.t("more zones", lang).format(n=n - len(shown)), "dim")))
    left = room - len(body)
    events: list[RenderableType] = []
    if left >= 2 and view.events:
        events = [line((i18n.t("events", lang), "bold"))]
        events += [line((e, "dim")) for e in view.events[-(left - 1):]]
    keys = line((i18n.t("keys overview", lang), "reverse"), "  ", (i18n.t("marks", lang), "dim"))
    return [*head, *body, *events, keys]


def reading_table(zone: ZoneView, lang: str) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold", show_edge=False)
    for h in ("quantity", "value", "in force", "recipe value", "measurement unit", "quality"):
        table.add_column(i18n.t(h, lang), justify="right" if h in ("value", "in force", "recipe value") else "left")
    for r in zone.readings:
        table.add_row(r.name, r.value, r.in_force, r.recipe, r.unit, Text(r.quality, style="" if r.good else "red"))
    return table


def actuator_table(zone: ZoneView, lang: str) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold", show_edge=False, expand=True)
    table.add_column(i18n.t("actuator", lang), no_wrap=True)
    table.add_column(i18n.t("target", lang), no_wrap=True)
    table.add_column(i18n.t("source", lang), no_wrap=True)
    table.add_column(i18n.t("reason", lang), ratio=1, overflow="fold")
    for a in zone.actuators:
        source = i18n.t("recipe" if a.source == "recipe" else a.source, lang)
        table.add_row(Text.assemble((a.id, "cyan"), f"\n{a.label}" if lang == "ko" else ""), a.state,
                      Text(source, style=MODE_STYLE.get(a.source, "") if a.source != "recipe" else ""), a.reason)
    return table


def detail(zone: ZoneView, number: int, lang: str, events: Iterable[str] = ()) -> Group:
    """Everything about one zone; reasons whole (wrapped by the table, never cut)."""
    title = Text.assemble((f"[{number}] ", "bold"), (zone.id, "bold cyan"), f" {zone.name}  ", mode_text(zone, lang))
    parts: list[RenderableType] = [title, Text(f"{i18n.t('recipe', lang)}: {zone.recipe}"),
                                   Text(f"{i18n.t('stage', lang)}: {zone.stage or '-'}"), Text(""),
                                   reading_table(zone, lang), Text("")]
    if zone.overrides:
        parts += [Text(f"{i18n.t('overrides', lang)}:", style="bold yellow")]
        parts += [Text(f"  {o}", style="yellow") for o in zone.overrides]
    if zone.alarms:
        parts += [Text(f"{i18n.t('alarms', lang)}:", style="bold red")] + [Text(f"  {a}", style="red")
                                                                        for a in zone.alarms]
    parts.append(actuator_table(zone, lang))
    mine = [e for e in events if f" {zone.id} " in e]
    if mine:
        parts += [Text(""), Text(i18n.t("events", lang), style="bold")] + [Text(e, style="dim") for e in mine]
    return Group(*parts)


class Window:
    """The lines of a renderable from `offset`, as many as the height given (a scrolled view)."""

    def __init__(self, renderable: RenderableType, offset: int, height: int) -> None:
        self.renderable, self.offset, self.height = renderable, offset, height

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = console.render_lines(self.renderable, options.update(height=None), pad=False)
        for row in lines[self.offset:self.offset + self.height]:
            yield from row
            yield Segment.line()


class LiveScreen:
    """The live view of a daemon at whatever size the console has when drawn."""

    def __init__(self, daemon: SiteDaemon, state: ViewState, lang: str | None = None) -> None:
        self.daemon, self.state, self.lang = daemon, state, lang or i18n.language()

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        height = options.height or options.max_height
        view = snapshot(self.daemon, self.lang)
        yield from screen(console, view, width, height, self.state, self.lang)


def screen(console: Console, view: SiteView, width: int, height: int, state: ViewState, lang: str
           ) -> list[RenderableType]:
    """The lines of one screen: the overview, or the selected zone's details scrolled to `state.scroll`."""
    if not view.zones:
        return [line(view.title)]
    state.selected = min(max(state.selected, 0), len(view.zones) - 1)
    if not state.detail:
        return overview(view, width, height, state, lang)
    head = header_lines(view, width)[:1]
    body = detail(view.zones[state.selected], state.selected + 1, lang, view.events)
    room = max(1, height - len(head) - 2)
    total = len(console.render_lines(body, console.options.update_width(width), pad=False))
    state.scroll = min(max(state.scroll, 0), max(0, total - room))
    more = total - state.scroll - room
    status = i18n.t("more lines", lang).format(n=more) if more > 0 else ""
    keys = line((i18n.t("keys detail", lang), "reverse"), "  ", (status, "dim"))
    return [*head, Window(body, state.scroll, room), keys]


def render(daemon: SiteDaemon, *, width: int = 80, lang: str | None = None, details: bool = True) -> str:
    """Plain text (no colour codes): the overview, every zone's details with whole reasons (unless not
    `details`), the events."""
    lang = lang or i18n.language()
    view = snapshot(daemon, lang)
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None, force_terminal=False, legacy_windows=False,
                      highlight=False, emoji=False, markup=False, soft_wrap=False)
    for part in header_lines(view, width):
        console.print(part)
    for i, zone in enumerate(view.zones):
        console.print(Group(*zone_lines(zone, i + 1, 3, lang, False)))
    for i, zone in enumerate(view.zones if details else ()):
        console.print()
        console.print(detail(zone, i + 1, lang))
    if view.events:
        console.print()
        console.print(Text(i18n.t("events", lang)))
        for e in view.events:
            console.print(Text(e), overflow="fold")
    return "\n".join(row.rstrip() for row in out.getvalue().splitlines())
