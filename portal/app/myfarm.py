"""내 농장 — a card per zone this person may see now (a tenant: each zone of an active lease): online or not and
how old its state is, the main readings against their setpoints, active alarms, overrides with the time left,
the recipe, its stage and the day since planting or stocking."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from portal.app import common, show
from portal.service.texts import t
from portal.service.views import ZoneCard

READINGS_ON_CARD = 4  # the main ones; the zone page has them all


def card(ctx: common.Ctx, zone: ZoneCard) -> None:
    lang = ctx.lang
    with st.container(border=True):
        st.markdown(f"**{common.md(zone.name)}** · {t('kind:' + zone.kind, lang)} · {show.status_line(zone, lang)}")
        st.caption(show.recipe_line(zone.recipe, zone.kind, lang))
        if not zone.readings:
            st.caption(t("no state yet", lang))
        for view in zone.readings[:READINGS_ON_CARD]:
            st.markdown(show.reading_line(view, lang))
        if zone.alarms:
            st.markdown(f"**{t('active alarms n', lang, n=len(zone.alarms))}**")
            for alarm in zone.alarms[:3]:
                st.markdown(show.alarm_line(alarm, lang))
        for override in zone.overrides:
            st.markdown(show.override_line(override, lang))
        if zone.lease is not None:
            last = zone.lease.until - timedelta(days=1)  # `until` is the first day without access
            st.caption(t("lease until", lang, start=zone.lease.start.isoformat(), end=last.isoformat()))
        if st.button(t("open zone", lang), key=f"open_{zone.key}", width="stretch"):
            common.open_zone(zone.key, "zone.py")


ctx = common.signed_in()
st.header(t("page:myfarm", ctx.lang))
with common.guard(ctx.lang):
    common.link_banner(ctx)
    zones = ctx.portal.my_zones(ctx.token)
    if not zones:
        st.info(t("no zones", ctx.lang))
    for zone in zones:
        card(ctx, zone)
