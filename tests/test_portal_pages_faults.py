"""Faults on the pages (AppTest): a locked account, a historian that cannot be read, the live link absent — each
one sentence on the page, never a traceback; the rest of the page still works."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from portal.app import common
from portal.service import accounts
from portal.service.store import Store
from tests.test_portal_pages import MAIN, SITE, open_page, signed_in, texts
from tests.test_portal_pages import stack as stack  # the fixture, shared with the page tests


def test_a_locked_account_is_told_until_when_in_korean(stack: Store) -> None:
    at = AppTest.from_file(MAIN, default_timeout=30)
    at.run()
    for _ in range(accounts.MAX_FAILURES):
        at.text_input(key="sign_in_username").input("kim")
        at.text_input(key="sign_in_password").input("not-kims-password")
        at.button[0].click().run()
    at.text_input(key="sign_in_username").input("kim")
    at.text_input(key="sign_in_password").input("kim-password-1")  # right, but locked now
    at.button[0].click().run()
    assert not at.exception
    assert [e.value for e in at.error][-1].startswith("로그인 실패가 반복되어 계정이")
    assert common.TOKEN not in at.session_state


def test_a_historian_that_cannot_be_read_is_one_sentence_and_the_live_part_still_shows(
        stack: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"this is not a SQLite database" * 100)
    monkeypatch.setenv(common.ENV_HISTORIAN, f"sqlite:///{broken}")
    at = open_page(signed_in("kim"), "zone.py", site=SITE, zone="gh1")
    assert not at.exception
    shown = texts(at)
    assert "기록 저장소를 읽을 수 없습니다" in shown, shown
    assert "실시간 데이터를 받을 수 없습니다" in shown  # the live part answered too (no broker here)
    assert not at.get("plotly_chart")
