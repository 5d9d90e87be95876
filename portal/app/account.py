"""계정 — who is signed in, a password change (which ends the person's other sign-ins), and sign-out."""

from __future__ import annotations

import streamlit as st

from portal.app import common
from portal.service.texts import t

ctx = common.signed_in()
lang = ctx.lang
st.header(t("account title", lang))
with common.guard(lang):
    assert ctx.principal is not None
    who = ctx.principal
    st.markdown(f"**{common.md(who.display_name or who.username)}** · {common.md(who.username)} · "
                f"{t('role name:' + who.role, lang)}")
    with st.form("password", clear_on_submit=True):
        st.subheader(t("change password", lang))
        old = st.text_input(t("old password", lang), type="password", autocomplete="current-password")
        new = st.text_input(t("new password", lang), type="password", autocomplete="new-password")
        again = st.text_input(t("repeat password", lang), type="password", autocomplete="new-password")
        if st.form_submit_button(t("change password", lang), width="stretch"):
            if new != again:
                st.error(t("passwords differ", lang))
            else:
                ctx.portal.change_password(ctx.token, old, new)
                st.success(t("password changed", lang))
    if st.button(t("sign out", lang), type="primary", width="stretch", key="portal_sign_out"):
        ctx.portal.sign_out(ctx.token)
        st.session_state.pop(common.TOKEN, None)
        if common.provider_signed_in():  # signed in by the province ID: leave it too, or the next run signs in again
            st.logout()
        st.rerun()
