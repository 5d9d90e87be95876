"""A command goes out once per click, never again on a rerun.

Streamlit runs the whole page again on every interaction, and a second click (or a rerun requested while the
first run still waits for the ack) must not publish the same command twice. So each form carries a nonce in
its widget keys: a click is acted on only if its nonce was never used, the nonce is marked used BEFORE the
command is published, and a fresh nonce (new widget keys) is drawn for the next command. A late trigger of the
old button then names a widget that no longer exists and does nothing. The facade and the hub guard again:
each command has its own id and the hub refuses to publish an id twice.

The answer says what was asked (`온도 설정 18.0 °C`) above the zone's words (`적용되었습니다.`), and only the
newest answer is shown, under its form and only for its zone: an older "applied" left beside a new refusal
reads as if the refused command had gone through.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NoReturn

import streamlit as st

from farmcore.link.payloads import ActuatorEntry, AlarmEntry
from portal.app.common import Ctx, md
from portal.service.commands import CommandRequest
from portal.service.errors import PortalError
from portal.service.model import ZoneKey
from portal.service.naming import command_words
from portal.service.texts import LANGS, t

SENT = "portal_sent_nonces"
SENT_KEPT = 200  # nonces remembered per session (older forms are long gone)
ANSWER = "portal_answer"  # st.session_state: the newest command answer of this session (a Shown)


@dataclass(frozen=True)
class Shown:
    """The newest answer: which form of which zone, what was asked and how it came out, in both languages (the
    reader may switch language after it)."""

    form: str
    key: ZoneKey
    status: str  # applied | refused | no_answer | not_sent | already
    ko: str
    en: str
    asked_ko: str = ""
    asked_en: str = ""

    def text(self, lang: str) -> str:
        """The asked-for line in bold over the zone's (or the service's) sentence."""
        asked, words = (self.asked_ko, self.ko) if lang == "ko" else (self.asked_en, self.en)
        return f"**{md(asked)}**\n\n{words}" if asked else words


def said(request: CommandRequest, *, unit_name: str | None = None,
         actuators: Mapping[str, ActuatorEntry] | None = None, alarm: AlarmEntry | None = None) -> tuple[str, str]:
    """What `request` asks, in Korean and English (naming.command_words), for `send`'s answer."""
    ko, en = (command_words(request, lang, unit_name=unit_name, actuators=actuators,
                            alarm=None if alarm is None else alarm.message.ko if lang == "ko" else alarm.message.en)
              for lang in LANGS)
    return ko, en


def nonce(form: str) -> str:
    """The current nonce of `form` (part of its widget keys)."""
    key = f"portal_nonce_{form}"
    if key not in st.session_state:
        st.session_state[key] = uuid.uuid4().hex[:12]
    return str(st.session_state[key])


def send(ctx: Ctx, key: ZoneKey, form: str, used: str, request: CommandRequest,
         asked: tuple[str, str] = ("", "")) -> NoReturn:
    """Publish `request` for the click that carried nonce `used`, unless that nonce was used before; then draw
    the page again at once, so the form on screen is the next nonce's (a click on the old one would be lost)
    and the answer shows where the form is, in place of any older answer. `asked`: `said(request)`."""
    sent: list[str] = st.session_state.setdefault(SENT, [])
    if used in sent:
        shown = Shown(form, key, "already", t("already sent", "ko"), t("already sent", "en"), *asked)
    else:
        sent.append(used)  # before publishing: an interrupted run cannot send it again
        del sent[:-SENT_KEPT]
        st.session_state[f"portal_nonce_{form}"] = uuid.uuid4().hex[:12]  # the next click is a new command
        with st.spinner(t("pending", ctx.lang)):
            try:
                outcome = ctx.portal.command(ctx.token, key.site, key.zone, request)
                shown = Shown(form, key, outcome.status, outcome.ko, outcome.en, *asked)
            except PortalError as err:
                shown = Shown(form, key, "not_sent", err.ko, err.en, *asked)
    st.session_state[ANSWER] = shown  # the older answer, of whichever form, goes
    st.rerun()


def outcome(form: str, lang: str, key: ZoneKey | None) -> None:
    """The newest answer, if it is `form`'s in zone `key` (None: any zone, a page of every zone's alarms):
    applied in green, refused in red, no answer or not sent in amber."""
    shown: Shown | None = st.session_state.get(ANSWER)
    if shown is None or shown.form != form or key not in (None, shown.key):
        return
    words = shown.text(lang)  # the facade's sentence says what happened (and, refused, why)
    if shown.status == "applied":
        st.success(words, icon="✅")
    elif shown.status == "refused":
        st.error(words, icon="⛔")
    else:
        st.warning(words, icon="⚠️")
