"""관리 — the admin's desk: sites and zones (register a site from its site file; zones heard on MQTT that no
registered site has), users, leases, and the audit log with filters and a CSV. Only an admin's navigation
offers this page, and every call is refused by the service unless the token is an admin's."""

from __future__ import annotations

from datetime import datetime, timedelta

import streamlit as st

from portal.app import common
from portal.service.admin import AuditFilter
from portal.service.model import Role, seoul_day, seoul_midnight
from portal.service.texts import t

AUDIT_SHOWN = 200  # lines on the page; the CSV has every row the filters match


def sites_tab(ctx: common.Ctx) -> None:
    lang, desk = ctx.lang, ctx.portal.admin
    for site in desk.sites(ctx.token):
        with st.container(border=True):
            st.markdown(f"**{common.md(site.name or site.id)}** · {common.md(site.id)} · "
                        f"{t('zones', lang)} {len(site.zones)}")
            for zone in site.zones:
                st.caption(f"{common.md(zone.zone)} · {t('kind:' + zone.kind, lang)} · {common.md(zone.name)}")
    with st.form("admin_site", clear_on_submit=True):
        path = st.text_input(t("register site", lang), key="admin_site_path")
        if st.form_submit_button(t("register", lang)) and path.strip():
            site = desk.register_site(ctx.token, path.strip())
            st.success(t("registered", lang, what=common.md(f"{site.id} ({len(site.zones)})")))
    st.markdown(f"**{t('unregistered zones', lang)}**")
    unknown = desk.unregistered_zones(ctx.token)
    st.caption(", ".join(common.md(k) for k in unknown) or t("none", lang))


def users_tab(ctx: common.Ctx) -> None:
    lang, desk = ctx.lang, ctx.portal.admin
    users = desk.users(ctx.token)
    for user in users:
        line = (f"**{common.md(user.username)}** · {common.md(user.display_name)} · "
                f"{t('role name:' + user.role, lang)}")
        if user.sites:
            line += " · " + ", ".join(common.md(s) for s in user.sites)
        if user.disabled:
            line += f" · ⛔ {t('disabled user', lang)}"
        st.markdown(line)
    with st.form("admin_user", clear_on_submit=True):
        st.markdown(f"**{t('new user', lang)}**")
        username = st.text_input(t("username", lang), key="admin_user_name")
        display = st.text_input(t("display name", lang), key="admin_user_display")
        role = st.selectbox(t("role field", lang), list(Role), format_func=lambda r: t(f"role name:{r}", lang),
                            key="admin_user_role")
        language = st.segmented_control(t("language", lang), ["ko", "en"], default="ko", key="admin_user_lang")
        if st.form_submit_button(t("create", lang)):
            password = desk.create_user(ctx.token, username.strip(), role, display.strip(), language or "ko")
            st.success(t("created", lang, what=common.md(username.strip())))
            st.code(password, language=None)  # shown this once; the store keeps only its hash


def leases_tab(ctx: common.Ctx) -> None:
    lang, desk = ctx.lang, ctx.portal.admin
    today = seoul_day(ctx.portal.clock())
    rows = desk.leases(ctx.token)
    for lease in rows:
        ended = f" · {t('end lease', lang)} {lease.ended}" if lease.ended else ""
        st.markdown(f"#{lease.id} · **{common.md(lease.tenant)}** · {common.md(lease.key)} · "
                    f"{lease.start} ~ {lease.end}{ended}")
    zones = [z.key for s in desk.sites(ctx.token) for z in s.zones]
    with st.form("admin_lease", clear_on_submit=True):
        st.markdown(f"**{t('new lease', lang)}**")
        tenant = st.text_input(t("tenant field", lang), key="admin_lease_tenant")
        key = st.selectbox(t("zone field", lang), zones, format_func=str, key="admin_lease_zone")
        start = st.date_input(t("start", lang), value=today, key="admin_lease_start")
        end = st.date_input(t("end", lang), value=today + timedelta(days=180), key="admin_lease_end")
        note = st.text_input(t("note", lang), key="admin_lease_note")
        if st.form_submit_button(t("add", lang)) and key is not None:
            lease = desk.add_lease(ctx.token, tenant.strip(), key.site, key.zone, start, end, note)
            st.success(t("created", lang, what=f"#{lease.id}"))
    holding = [lease for lease in rows if lease.until > today]
    with st.form("admin_lease_end"):
        st.markdown(f"**{t('end lease', lang)}**")
        chosen = st.selectbox(t("lease id", lang), holding, key="admin_lease_pick",
                              format_func=lambda x: f"#{x.id} {x.tenant} {x.key}")
        day = st.date_input(t("end day", lang), value=today, key="admin_lease_day")
        if st.form_submit_button(t("end lease", lang)) and chosen is not None:
            lease = desk.end_lease(ctx.token, chosen.id, day)
            st.success(t("ended", lang, what=f"#{lease.id}"))


def audit_tab(ctx: common.Ctx) -> None:
    lang, desk = ctx.lang, ctx.portal.admin
    today = seoul_day(ctx.portal.clock())
    with st.expander(t("audit filters", lang), expanded=True):
        since = st.date_input(t("since", lang), value=today - timedelta(days=7), key="admin_audit_since")
        until = st.date_input(t("until day", lang), value=today, key="admin_audit_until")
        user = st.text_input(t("user filter", lang), key="admin_audit_user").strip() or None
        action = st.text_input(t("action filter", lang), key="admin_audit_action").strip() or None
    filters = AuditFilter(since=seoul_midnight(since), until=seoul_midnight(until + timedelta(days=1)),
                          username=user, action=action)
    rows = desk.audit(ctx.token, filters)
    st.caption(t("rows n", lang, n=len(rows)))
    for row in rows[:AUDIT_SHOWN]:
        where = f" · {common.md(row.site)}/{common.md(row.zone)}" if row.site else ""
        st.markdown(f"{common.local(row.time)} · **{common.md(row.username or '-')}** · {common.md(row.action)}"
                    f"{where} · {common.md(row.outcome)}")
    if st.button(t("csv prepare", lang), key="admin_audit_csv"):
        st.session_state["admin_audit_data"] = desk.audit_csv(ctx.token, filters)
    if "admin_audit_data" in st.session_state:
        stamp = datetime.now().strftime("%Y%m%d")
        st.download_button(t("audit csv", lang), st.session_state["admin_audit_data"], file_name=f"audit-{stamp}.csv",
                           mime="text/csv", on_click="ignore", key="admin_audit_download")


ctx = common.signed_in()
st.header(t("page:admin", ctx.lang))
tabs = st.tabs([t(k, ctx.lang) for k in ("admin sites", "admin users", "admin leases", "admin audit")])
for tab, draw in zip(tabs, (sites_tab, users_tab, leases_tab, audit_tab), strict=True):
    with tab, common.guard(ctx.lang):
        draw(ctx)
