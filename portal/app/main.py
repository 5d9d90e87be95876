"""The portal's entry (`farmctl portal serve` runs `streamlit run` on this file): the sign-in form, the language
switch, and the pages this person's role may open.

`st.navigation` is built per run from the signed-in principal, so a page a role must not see is not merely
hidden: it is not routable (a tenant asking for the admin page's address gets the default page). The service
still decides every read and command again; the page list is only what is offered.
"""

from __future__ import annotations

import os

import streamlit as st

from portal.app import common
from portal.service.errors import PortalError
from portal.service.model import Role
from portal.service.portal import OIDC_CLAIM
from portal.service.texts import t

ENV_OIDC_CLAIM = "FARMCTL_PORTAL_OIDC_CLAIM"  # which claim of the identity names the portal account
ENV_OIDC_PROVIDER = "FARMCTL_PORTAL_OIDC_PROVIDER"  # the [auth.NAME] table to use when there are several
OIDC_REFUSED = "portal_oidc_refused"

st.set_page_config(page_title=t("app title", common.lang()), page_icon="🌱", layout="centered",
                   initial_sidebar_state="auto")  # centered: one column that reads on a 390-px phone


def language_switch(key: str, where: object = st.sidebar) -> None:
    """한국어 | English, kept in the session (a widget's own state goes when a page stops drawing it)."""
    def chosen() -> None:
        if st.session_state[key] is not None:  # clicking the chosen one again unselects it: keep the language
            st.session_state[common.LANG] = "en" if st.session_state[key] == "English" else "ko"

    current = "English" if common.lang() == "en" else "한국어"
    where.segmented_control(  # type: ignore[attr-defined]
        t("language", common.lang()), ["한국어", "English"], default=current, key=key, on_change=chosen,
        label_visibility="collapsed")


def oidc_configured() -> bool:
    """A province identity provider is set up (`[auth]` in .streamlit/secrets.toml, README § The portal)."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all: local accounts only
        return False


def oidc_session(ctx_lang: str) -> None:
    """The identity provider signed this browser in (`st.user`): open the portal session of the account its
    claim names, once; a refusal is said once and offers signing out of the provider."""
    if st.session_state.get(OIDC_REFUSED):
        st.error(st.session_state[OIDC_REFUSED])
        if st.button(t("sign out oidc", ctx_lang), key="oidc_sign_out"):
            st.session_state.pop(OIDC_REFUSED, None)
            st.logout()
        return
    claim = os.environ.get(ENV_OIDC_CLAIM) or OIDC_CLAIM
    with common.guard(ctx_lang):
        try:
            token, principal = common.portal().sign_in_vouched(st.user.to_dict(), claim)
        except PortalError as err:
            st.session_state[OIDC_REFUSED] = err.text(ctx_lang)
            st.rerun()
        st.session_state[common.TOKEN] = token
        st.session_state.setdefault(common.LANG, principal.language)
        st.rerun()


def sign_in_page() -> None:
    """Username and password (and the province ID when one is set up); the token goes into this session's
    state only."""
    ctx_lang = common.lang()
    st.title(t("app title", ctx_lang))
    language_switch("lang_pick_signin", st)
    if oidc_configured():
        if common.provider_signed_in():
            oidc_session(ctx_lang)
            return
        if st.button(t("sign in oidc", ctx_lang), type="primary", width="stretch", key="oidc_sign_in"):
            st.login(os.environ.get(ENV_OIDC_PROVIDER) or None)
        st.caption(t("or local account", ctx_lang))
    with st.form("sign_in"):
        st.subheader(t("sign in title", ctx_lang))
        username = st.text_input(t("username", ctx_lang), key="sign_in_username", autocomplete="username")
        password = st.text_input(t("password", ctx_lang), type="password", key="sign_in_password",
                                 autocomplete="current-password")
        pressed = st.form_submit_button(t("sign in", ctx_lang), type="primary", width="stretch")
    if not pressed:
        return
    if not username.strip() or not password:
        st.error(t("fill both", ctx_lang))
        return
    with common.guard(ctx_lang):
        try:
            token, principal = common.portal().sign_in(username.strip(), password)
        except PortalError as err:
            st.error(err.text(ctx_lang))
            return
        st.session_state[common.TOKEN] = token
        st.session_state.setdefault(common.LANG, principal.language)
        st.rerun()


def pages(role: Role, lang: str) -> list[st.Page]:
    """What a role is offered: a tenant steers their zones; officers and technicians read their sites' zones;
    an admin reads every zone and administers."""
    def page(path: str, key: str, icon: str, default: bool = False) -> st.Page:
        return st.Page(path, title=t(f"page:{key}", lang), icon=icon, default=default)

    offered = [page("myfarm.py", "myfarm", "🏠", default=True), page("zone.py", "zone", "🌱")]
    if role == Role.TENANT:
        offered.append(page("controls.py", "controls", "🎛️"))
    offered += [page("alarms.py", "alarms", "🔔"), page("account.py", "account", "👤")]
    if role == Role.ADMIN:
        offered.append(page("admin.py", "admin", "🛠️"))
    return offered


ctx = None
with common.guard(common.lang()):  # the store down: one sentence, and nothing else on the page
    ctx = common.context()
if ctx is None:
    st.stop()
elif ctx.principal is None:
    # A link to a page (a bookmark, a zone's address sent by someone) shows the sign-in form at that address, and
    # after signing in the same address runs that page (Streamlit knows a page by its url_path): otherwise the
    # link says "page not found" and the person lands on My farm. The page still asks the service as always.
    navigation = st.navigation([st.Page(sign_in_page, title=t("page:sign in", ctx.lang), icon="🔑",
                                        url_path="signin", default=True)]
                               + [st.Page(sign_in_page, title=t("page:sign in", ctx.lang), url_path=path)
                                  for path in ("myfarm", "zone", "controls", "alarms", "account", "admin")],
                               position="hidden")
else:
    with st.sidebar:
        name = ctx.principal.display_name or ctx.principal.username
        st.caption(t("signed in as", ctx.lang, name=common.md(name), role=t(f"role name:{ctx.principal.role}",
                                                                             ctx.lang)))
        language_switch("lang_pick_sidebar")
    navigation = st.navigation(pages(ctx.principal.role, ctx.lang))
navigation.run()
