"""Plotly figures of a zone's history: one chart per quantity, the reading as a line over its setpoint band and
the envelope a tenant may set it within. Pure (a HistoryView in, figures out): no Streamlit, so the pages only
place them and the benchmark measures what a page costs.

Times are shown as Asia/Seoul wall-clock times: plotly.js ignores a time's offset, so the figures get naive
local times (the farmer's clock), while the view keeps UTC. Tick labels are numbers only (`12-07`, `15:00`):
plotly's own labels are English ("Dec 7, 2026") in either language. The legend sits in a row above the plot:
under it, it ran into the time axis's title on a 390-px phone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
import plotly.graph_objects as go

from portal.service import naming, texts
from portal.service.history import EPOCH, Band, HistoryView, label
from portal.service.model import SEOUL

_MS = timedelta(milliseconds=1)
READING_COLOUR = "#1f77b4"
SETPOINT_COLOUR = "rgba(214, 39, 40, 0.9)"
SETPOINT_FILL = "rgba(214, 39, 40, 0.25)"
ENVELOPE_FILL = "rgba(44, 160, 44, 0.12)"
HEIGHT_PX = 320  # small enough that two charts fit a 390-px phone screen's height at once
DAY_MS = 86_400_000
# tick labels by the spacing plotly picks for the span: hours over two lines (time, then the day) below a day,
# the day alone from a day up; the hover shows the whole time
TICKS = ({"dtickrange": [None, DAY_MS], "value": "%H:%M<br>%m-%d"}, {"dtickrange": [DAY_MS, None], "value": "%m-%d"})
HOVER_TIME = "%Y-%m-%d %H:%M"


def seoul_times(times: Sequence[datetime]) -> np.ndarray:
    """UTC times -> naive Asia/Seoul wall-clock times (datetime64[ms]); vectorised when the offset is the same at
    both ends (Korea has kept +09:00 without summer time since 1988), else per point."""
    if not times:
        return np.array([], dtype="datetime64[ms]")
    first, last = times[0].astimezone(SEOUL).utcoffset(), times[-1].astimezone(SEOUL).utcoffset()
    if first is not None and first == last:
        ms = np.fromiter(((x - EPOCH) // _MS for x in times), dtype=np.int64, count=len(times))
        return (ms + first // _MS).astype("datetime64[ms]")
    return np.array([x.astimezone(SEOUL).replace(tzinfo=None) for x in times], dtype="datetime64[ms]")


def _values(values: Sequence[float | None]) -> np.ndarray:
    """None -> NaN, so plotly breaks the line where a window holds no data."""
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def _band(fig: go.Figure, band: Band, name: str, line: str | None, fill: str) -> None:
    x = seoul_times(band.times)
    edge = {"color": line or "rgba(0,0,0,0)", "width": 1 if line else 0, "shape": "hv"}
    fig.add_trace(go.Scatter(x=x, y=_values(band.low), mode="lines", line=edge, name=name, legendgroup=name,
                             showlegend=False, hoverinfo="skip" if line is None else None))
    fig.add_trace(go.Scatter(x=x, y=_values(band.high), mode="lines", line=edge, name=name, legendgroup=name,
                             fill="tonexty", fillcolor=fill, hoverinfo="skip" if line is None else None))


def quantity_figure(view: HistoryView, name: str, lang: str = "ko") -> go.Figure:
    """One quantity's chart: envelope band, setpoint band, reading line (drawn in that order, reading on top)."""
    series = view.series_of(name)
    setpoint = view.setpoints.get(name)
    envelope = view.envelopes.get(name)
    unit = texts.unit(next((x.unit for x in (series, setpoint, envelope) if x is not None), ""))
    title = naming.reading_name(name, lang)  # aerator_1_current -> 폭기기 1 전류
    fig = go.Figure()
    if envelope is not None:
        _band(fig, envelope, texts.t("band:envelope", lang), None, ENVELOPE_FILL)
    if setpoint is not None:
        _band(fig, setpoint, texts.t("band:setpoint", lang), SETPOINT_COLOUR, SETPOINT_FILL)
    if series is not None:
        fig.add_trace(go.Scatter(x=seoul_times(series.times), y=_values(series.values), mode="lines",
                                 name=title, line={"color": READING_COLOUR, "width": 1.5}, connectgaps=False,
                                 showlegend=False))  # the chart's title names it: the legend keeps to one row
    fig.update_layout(
        title={"text": title, "x": 0.01, "y": 0.98, "yanchor": "top", "font": {"size": 15}},
        height=HEIGHT_PX, margin={"l": 48, "r": 8, "t": 64, "b": 44},
        hovermode="x unified",
        legend={"orientation": "h", "x": 0.0, "xanchor": "left", "y": 1.0, "yanchor": "bottom", "font": {"size": 12},
                "itemwidth": 30},
        xaxis={"title": {"text": label("time_local", lang)}, "range": list(seoul_times([view.start, view.end])),
               "tickformatstops": list(TICKS), "hoverformat": HOVER_TIME},
        yaxis={"title": {"text": f"{title} ({unit})" if unit else title}},
    )
    return fig


def history_figures(view: HistoryView, lang: str = "ko") -> dict[str, go.Figure]:
    """A chart per quantity of the view, in its order; empty when the window holds no records."""
    return {name: quantity_figure(view, name, lang) for name in view.quantities}
