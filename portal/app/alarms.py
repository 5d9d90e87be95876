"""경보 — the alarms of every zone this person may see, as the daemons publish them (ISA-18.2 states:
unacknowledged, acknowledged, cleared but unacknowledged, normal); a tenant acknowledges their own zones'."""

from __future__ import annotations

import streamlit as st

from portal.app import common, sending, show
from portal.service.commands import CommandRequest
from portal.service.texts import t
from portal.service.views import AlarmRow

WAITING = ("unacknowledged", "cleared_unacknowledged")  # what still needs a person


def order(row: AlarmRow) -> tuple[int, int, str]:
    """Needing a person first, then active, then the rest; critical before warning before info."""
    rank = {"critical": 0, "warning": 1, "info": 2}
    return (0 if row.alarm.status in WAITING else 1 if row.alarm.active else 2,
            rank.get(row.alarm.severity, 3), row.alarm.raised_at or "")


def alarm_card(ctx: common.Ctx, row: AlarmRow, n: str) -> None:
    lang = ctx.lang
    with st.container(border=True):
        st.markdown(f"**{common.md(row.key)}** · {show.alarm_line(row.alarm, lang)}")
        if row.alarm.acked_by:
            st.caption(t("acked by", lang, who=common.md(row.alarm.acked_by),
                         t=common.local(show.parse_time(row.alarm.acked_at)) if row.alarm.acked_at else ""))
        if row.alarm.cleared_at:
            st.caption(t("cleared at", lang, t=common.local(show.parse_time(row.alarm.cleared_at))))
        if row.can_ack and st.button(t("ack", lang), key=f"alarm_ack_{row.key}_{row.alarm.id}_{n}"):
            request = CommandRequest("ack_alarm", row.alarm.id)
            sending.send(ctx, row.key, "alarms", n, request, sending.said(request, alarm=row.alarm))


ctx = common.signed_in()
st.header(t("alarms title", ctx.lang))
with common.guard(ctx.lang):
    common.link_banner(ctx)
    sending.outcome("alarms", ctx.lang, None)
    everything = st.toggle(t("show recent", ctx.lang), key="portal_alarms_all")
    rows = sorted(ctx.portal.alarms(ctx.token), key=order)
    shown = [r for r in rows if everything or r.alarm.active or r.alarm.status in WAITING]
    if not shown:
        st.info(t("no alarms", ctx.lang))
    nonce = sending.nonce("alarms")
    for row in shown:
        alarm_card(ctx, row, nonce)
