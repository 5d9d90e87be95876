"""A command goes out once per click, never again on a rerun.

Streamlit runs the whole page again on every interaction, and a second click (or a rerun requested while the
first run still waits for the ack) must not publish the same command twice. So each form carries a nonce in
its widget keys: a click is acted on only if its nonce was never used, the nonce is marked used BEFORE the
command is published, and a fresh nonce (new widget keys) is drawn for the next command. A late trigger of the
old button then names a widget that no longer exists and does nothing. The facade and the hub guard again:
each command has its own id and the hub refuses to publish an id twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import NoReturn

import streamlit as st

from portal.app.common import Ctx
from portal.service.commands import CommandRequest
from portal.service.errors import PortalError
from portal.service.model import ZoneKey
from portal.service.texts import t

SENT = "portal_sent_nonces"
SENT_KEPT = 200  # nonces remembered per session (older forms are long gone)


@dataclass(frozen=True)
class Shown:
    """The last answer of a form, in both languages (the reader may switch language after it)."""

    status: str  # applied | refused | no_answer | not_sent | already
    ko: str
    en: str

    def text(self, lang: str) -> str:
        return self.ko if lang == "ko" else self.en


def nonce(form: str) -> str:
    """The current nonce of `form` (part of its widget keys)."""
    key = f"portal_nonce_{form}"
    if key not in st.session_state:
        st.session_state[key] = uuid.uuid4().hex[:12]
    return str(st.session_state[key])


def send(ctx: Ctx, key: ZoneKey, form: str, used: str, request: CommandRequest) -> NoReturn:
    """Publish `request` for the click that carried nonce `used`, unless that nonce was used before; then draw
    the page again at once, so the form on screen is the next nonce's (a click on the old one would be lost)
    and the answer shows where the form is."""
    sent: list[str] = st.session_state.setdefault(SENT, [])
    if used in sent:
        shown = Shown("already", t("already sent", "ko"), t("already sent", "en"))
    else:
        sent.append(used)  # before publishing: an interrupted run cannot send it again
        del sent[:-SENT_KEPT]
        st.session_state[f"portal_nonce_{form}"] = uuid.uuid4().hex[:12]  # the next click is a new command
        with st.spinner(t("pending", ctx.lang)):
            try:
                outcome = ctx.portal.command(ctx.token, key.site, key.zone, request)
                shown = Shown(outcome.status, outcome.ko, outcome.en)
            except PortalError as err:
                shown = Shown("not_sent", err.ko, err.en)
    st.session_state[f"portal_outcome_{form}"] = shown
    st.rerun()


def outcome(form: str, lang: str) -> None:
    """The last answer of `form`: applied in green, refused in red, no answer or not sent in amber."""
    shown: Shown | None = st.session_state.get(f"portal_outcome_{form}")
    if shown is None:
        return
    words = shown.text(lang)  # the facade's sentence says what happened (and, refused, why)
    if shown.status == "applied":
        st.success(words, icon="✅")
    elif shown.status == "refused":
        st.error(words, icon="⛔")
    else:
        st.warning(words, icon="⚠️")
