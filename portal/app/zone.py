"""구역 — one zone: its drawing and live values refreshed every 2 s (a fragment, so only that part reruns), each
actuator with its target, feedback, who decided and why, the history charts for 24 h / 7 d / 30 d / the
season with the setpoint and envelope bands, and the CSV of the reader's own period."""

from __future__ import annotations

import streamlit as st

from farmcore.runtime.reasontext import event as event_text
from portal.app import common, show
from portal.service.charts import history_figures
from portal.service.drawing import zone_svg
from portal.service.history import SPANS
from portal.service.model import ZoneKey
from portal.service.naming import actuator_names, reading_name
from portal.service.texts import t

LIVE_EVERY_S = 2  # issue 17: live values refreshed every 2 s
EVENTS_SHOWN = 8


@st.fragment(run_every=LIVE_EVERY_S)
def live(ctx: common.Ctx, key: ZoneKey) -> None:
    """The zone as it is now; asks the facade again on every tick (tenancy too: a lease ending ends it)."""
    lang = ctx.lang
    with common.guard(lang):
        page = ctx.portal.zone(ctx.token, key.site, key.zone)
        card = page.card
        st.markdown(show.status_line(card, lang) + f" · {t('mode:' + page.state.mode, lang)}"
                    if page.state is not None else show.status_line(card, lang))
        st.caption(show.recipe_line(card.recipe, card.kind, lang))
        if page.state is None:
            st.info(t("no state yet", lang))
            return
        st.image(zone_svg(page.state, lang, name=card.name), width="stretch")
        actuators = page.state.actuators
        names = actuator_names(actuators, lang)
        with st.container(border=True):
            st.markdown(f"**{t('live values', lang)}**")
            for view in card.readings:
                st.markdown(show.reading_line(view, lang, reading_name(view.quantity, lang, actuators)))
        for alarm in card.alarms:
            st.markdown(show.alarm_line(alarm, lang))
        for override in card.overrides:
            st.markdown(show.override_line(override, lang, names.get(override.actuator)))
        with st.expander(f"{t('actuators', lang)} ({len(actuators)})", expanded=True):
            for act_id, entry in actuators.items():
                head, why = show.actuator_lines(names[act_id], entry, lang)
                st.markdown(head)
                if why:
                    st.caption(why)
        if page.events:
            with st.expander(t("events", lang)):
                for ev in reversed(page.events[-EVENTS_SHOWN:]):
                    st.caption(f"{common.local(show.parse_time(ev.time))} · {t('event:' + ev.code, lang)} · "
                               f"{common.md(event_text(ev.message, lang))}")


def history(ctx: common.Ctx, key: ZoneKey) -> None:
    """Charts of the chosen span, from the historian's roll-ups, clipped to what this person may read."""
    lang = ctx.lang
    st.subheader(t("history", lang))
    span = st.segmented_control(t("span", lang), list(SPANS), default="24h", key="portal_span",
                                format_func=lambda s: t(f"span:{s}", lang)) or "24h"
    with common.guard(lang):
        figures = history_figures(ctx.portal.history(ctx.token, key.site, key.zone, span), lang)
        if not figures:
            st.info(t("no history", lang))
        for name, figure in figures.items():
            st.plotly_chart(figure, config={"displayModeBar": False, "responsive": True}, key=f"chart_{name}")


def csv(ctx: common.Ctx, key: ZoneKey) -> None:
    """The CSV is built when asked for (a season is megabytes) and kept in this session only."""
    lang = ctx.lang
    with common.guard(lang):
        if st.button(t("csv prepare", lang), key="portal_csv_prepare"):
            st.session_state["portal_csv"] = (key, *ctx.portal.export_csv(ctx.token, key.site, key.zone, lang=lang))
        prepared = st.session_state.get("portal_csv")
        if prepared is not None and prepared[0] == key:
            st.download_button(t("csv download", lang), prepared[2], file_name=prepared[1], mime="text/csv",
                               key="portal_csv_download", on_click="ignore")


ctx = common.signed_in()
with common.guard(ctx.lang):
    picked = common.zone_pick(ctx)
    if picked is not None:
        first = ctx.portal.zone(ctx.token, picked.site, picked.zone)  # refuses a zone this person may not see
        st.header(f"{common.md(first.card.name)} · {t('kind:' + first.card.kind, ctx.lang)}")
        common.link_banner(ctx)
        live(ctx, picked)
        history(ctx, picked)
        csv(ctx, picked)
