"""제어 — what a tenant may steer in their zone: a setpoint inside the recipe's envelope (the widget's bounds are
the envelope the zone publishes; the service checks again before publishing), an actuator override for a
limited time (at most the site's limit, after a confirmation), its release, feed-now for a tank, and alarm
acknowledgement. Each command shows pending, then what was asked (`온도 설정 18.0 °C`) over applied or refused
with the reason in the reader's language; only the newest answer stays on the page (sending.py).
"""

from __future__ import annotations

import math

import streamlit as st

from farmcore.link.messages import MAX_REASON
from portal.app import common, sending, show
from portal.service.commands import CommandRequest
from portal.service.model import ZoneKey
from portal.service.naming import actuator_names
from portal.service.texts import DECIMALS, quantity, t, unit
from portal.service.views import ZonePage

MINUTE = 60.0


def step_of(unit_name: str | None) -> float:
    """The number input's step: the smallest change the reading is shown with (0.1 °C, 10 ppm of CO2)."""
    decimals = DECIMALS.get(unit_name or "", 1)
    return 10.0 if unit_name == "ppm" else 10.0 ** -decimals


def setpoint(ctx: common.Ctx, key: ZoneKey, page: ZonePage) -> None:
    lang = ctx.lang
    st.markdown(f"**{t('setpoint title', lang)}**")
    if not page.envelope:
        st.caption(t("no envelope", lang))
        return
    names = sorted(page.envelope)
    name = st.selectbox(t("quantity pick", lang), names, format_func=lambda q: quantity(q, lang),
                        key="portal_sp_quantity")
    low, high = page.envelope[name]
    view = next((r for r in page.card.readings if r.quantity == name), None)
    unit_name = view.unit if view is not None else None
    current = view.setpoint if view is not None and view.setpoint is not None else (low + high) / 2
    n = sending.nonce("setpoint")
    with st.form(f"setpoint_{n}"):
        value = st.number_input(t("new value", lang, lo=f"{low:g}", hi=f"{high:g}", unit=unit(unit_name)),
                                min_value=float(low), max_value=float(high), value=float(min(high, max(low, current))),
                                step=step_of(unit_name), format=f"%.{DECIMALS.get(unit_name or '', 1)}f",
                                key=f"sp_value_{n}")
        reason = st.text_input(t("reason input", lang), max_chars=MAX_REASON, key=f"sp_reason_{n}")
        if st.form_submit_button(t("send", lang), type="primary", width="stretch"):
            request = CommandRequest("setpoint", name, float(value), reason=reason)
            sending.send(ctx, key, "setpoint", n, request, sending.said(request, unit_name=unit_name))
    sending.outcome("setpoint", lang, key)


def override(ctx: common.Ctx, key: ZoneKey, page: ZonePage) -> None:
    lang = ctx.lang
    st.markdown(f"**{t('override title', lang)}**")
    assert page.state is not None
    actuators = page.state.actuators
    names = actuator_names(actuators, lang)
    act_id = st.selectbox(t("actuator pick", lang), list(actuators), key="portal_ov_actuator",
                          format_func=lambda a: names[a])
    if act_id is None:
        return
    longest = max(1, math.floor(page.max_override_s / MINUTE))
    n = sending.nonce("override")
    with st.form(f"override_{n}"):
        if actuators[act_id].kind == "retractable":
            value: bool | float = float(st.slider(t("position pct", lang), 0, 100, 50, step=5, key=f"ov_pos_{n}"))
        else:
            value = st.radio(t("actuator pick", lang), [True, False], horizontal=True, key=f"ov_on_{n}",
                             format_func=lambda v: t("turn on" if v else "turn off", lang),
                             label_visibility="collapsed")
        minutes = st.number_input(t("duration min", lang, max=longest), min_value=1, max_value=longest,
                                  value=min(30, longest), step=5, key=f"ov_minutes_{n}")
        reason = st.text_input(t("reason input", lang), max_chars=MAX_REASON, key=f"ov_reason_{n}")
        confirmed = st.checkbox(t("confirm override", lang), key=f"ov_confirm_{n}")
        if st.form_submit_button(t("send", lang), type="primary", width="stretch"):
            request = CommandRequest("override", act_id, value, minutes * MINUTE, reason, confirmed=confirmed)
            sending.send(ctx, key, "override", n, request, sending.said(request, actuators=actuators))
    sending.outcome("override", lang, key)


def release(ctx: common.Ctx, key: ZoneKey, page: ZonePage) -> None:
    lang = ctx.lang
    st.markdown(f"**{t('release title', lang)}**")
    if not page.card.overrides:
        st.caption(t("no overrides", lang))
    n = sending.nonce("release")
    actuators = page.state.actuators if page.state is not None else {}
    names = actuator_names(actuators, lang)
    for view in page.card.overrides:
        st.markdown(show.override_line(view, lang, names.get(view.actuator)))
        if st.button(t("release", lang), key=f"release_{view.actuator}_{n}"):
            request = CommandRequest("release", view.actuator)
            sending.send(ctx, key, "release", n, request, sending.said(request, actuators=actuators))
    sending.outcome("release", lang, key)


def feed(ctx: common.Ctx, key: ZoneKey) -> None:
    lang = ctx.lang
    st.markdown(f"**{t('feed title', lang)}**")
    n = sending.nonce("feed")
    if st.button(t("feed now", lang), key=f"feed_{n}"):
        request = CommandRequest("feed_now")
        sending.send(ctx, key, "feed", n, request, sending.said(request))
    sending.outcome("feed", lang, key)


def acknowledge(ctx: common.Ctx, key: ZoneKey, page: ZonePage) -> None:
    lang = ctx.lang
    st.markdown(f"**{t('ack title', lang)}**")
    waiting = [a for a in page.card.alarms if not a.acked]
    if not waiting:
        st.caption(t("no alarms to ack", lang))
    n = sending.nonce("ack")
    for alarm in waiting:
        st.markdown(show.alarm_line(alarm, lang))
        if st.button(t("ack", lang), key=f"ack_{alarm.id}_{n}"):
            request = CommandRequest("ack_alarm", alarm.id)
            sending.send(ctx, key, "ack", n, request, sending.said(request, alarm=alarm))
    sending.outcome("ack", lang, key)


ctx = common.signed_in()
st.header(t("page:controls", ctx.lang))
with common.guard(ctx.lang):
    picked = common.zone_pick(ctx)
    if picked is not None:
        zone_page = ctx.portal.zone(ctx.token, picked.site, picked.zone)
        common.link_banner(ctx)
        if not zone_page.card.can_command:
            st.info(t("read only" if ctx.principal and ctx.principal.role != "tenant" else "controls off",
                      ctx.lang))
        elif zone_page.state is not None:
            with st.container(border=True):
                setpoint(ctx, picked, zone_page)
            with st.container(border=True):
                override(ctx, picked, zone_page)
            with st.container(border=True):
                release(ctx, picked, zone_page)
            if zone_page.card.kind == "tank":
                with st.container(border=True):
                    feed(ctx, picked)
            with st.container(border=True):
                acknowledge(ctx, picked, zone_page)
