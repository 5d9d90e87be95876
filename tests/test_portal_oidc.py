"""Signing in with the province's identity provider (Streamlit's `st.login`, OIDC): the provider says who the
person is, the portal what they may see. AppTest cannot run a provider, but it can present a signed-in `st.user`
as Streamlit would after the provider's redirect: that is what these tests do."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from portal.app import common
from portal.service import accounts, sites
from portal.service.admin import AuditFilter
from portal.service.errors import SignInError
from portal.service.portal import Portal
from portal.service.store import Store

MAIN = str(Path(__file__).resolve().parents[1] / "portal" / "app" / "main.py")
SITE_FILE = Path(__file__).resolve().parents[1] / "farmcore" / "twin" / "sites" / "gyeongbuk-demo.toml"
AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32, "client_id": "portal",
        "client_secret": "s", "server_metadata_url": "https://id.example.kr/.well-known/openid-configuration"}


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    db = f"sqlite:///{tmp_path / 'portal.db'}"
    store = Store.open(db)
    sites.register_site(store, SITE_FILE)
    accounts.create_user(store, "kim", "tenant", "kim-password-1", display_name="김농부")
    accounts.create_user(store, "admin", "admin", "admin-password-1")
    monkeypatch.setenv(common.ENV_DB, db)
    monkeypatch.delenv(common.ENV_BROKER, raising=False)
    monkeypatch.setenv(common.ENV_HISTORIAN, f"sqlite:///{tmp_path / 'history.db'}")
    yield store
    st.cache_resource.clear()
    store.close()


def app(user: dict[str, object] | None, auth: bool = True) -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=30)
    if auth:
        at.secrets["auth"] = AUTH
    if user is not None:
        at.user = user  # type: ignore[assignment]
    at.run()
    assert not at.exception, at.exception
    return at


def test_a_person_the_provider_signed_in_gets_the_portal_account_its_claim_names(store: Store) -> None:
    at = app({"is_logged_in": True, "preferred_username": "Kim", "email": "kim@example.kr"})
    assert at.session_state[common.TOKEN]
    assert "김농부" in " ".join(str(c.value) for c in at.sidebar.caption)


def test_an_identity_the_portal_does_not_know_is_told_so_once_and_may_sign_out(store: Store) -> None:
    at = app({"is_logged_in": True, "preferred_username": "stranger"})
    assert common.TOKEN not in at.session_state
    assert any("등록된 계정이 아닙니다" in str(e.value) for e in at.error)
    assert at.button(key="oidc_sign_out")
    at.run()  # a rerun does not try (and audit) again
    portal = Portal(store)
    admin = portal.sign_in("admin", "admin-password-1")[0]
    rows = portal.admin.audit(admin, AuditFilter(action="sign_in_oidc"))
    assert [(r.username, r.outcome) for r in rows] == [("stranger", "not_registered")]


def test_the_province_button_shows_only_when_a_provider_is_set_up(store: Store) -> None:
    assert app(None).button(key="oidc_sign_in")
    assert not [b for b in app(None, auth=False).button if b.key == "oidc_sign_in"]


def test_a_disabled_account_is_refused_even_when_the_provider_vouches(store: Store) -> None:
    accounts.set_disabled(store, "kim", True)
    with pytest.raises(SignInError) as refused:
        Portal(store).sign_in_vouched({"preferred_username": "kim"})
    assert refused.value.code == "disabled"
    with pytest.raises(SignInError) as nameless:
        Portal(store).sign_in_vouched({"email": "kim@example.kr"})
    assert nameless.value.code == "not_registered"
