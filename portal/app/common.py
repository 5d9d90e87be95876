"""What every page shares: the one Portal of the process, the signed-in person of this browser session, the
language, the error guard, the zone picker and the little formatters.

Caching (README § Portal): `st.cache_resource` holds only the `Portal` (the store's engine, the MQTT hub, the
historian handle), built from the three URLs below; it knows no user, and every answer it gives is decided by
tenancy from the session token passed in. Nothing per user is cached across sessions: no `st.cache_data`
anywhere in the portal (it is keyed by arguments only, so one tenant's zone page could be served to another);
a session keeps its token, language and a prepared CSV in its own `st.session_state`.
"""

from __future__ import annotations

import logging
import os
import re
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import streamlit as st

from farmcore.historian.base import Historian
from farmcore.historian.config import default_url as default_historian_url
from farmcore.link.brokerurl import parse_broker_url
from portal.serve import ENV_BROKER, ENV_DB, ENV_HISTORIAN  # what `farmctl portal serve` sets
from portal.service.errors import PortalError
from portal.service.history import open_history
from portal.service.live import LiveHub
from portal.service.model import SEOUL, Principal, ZoneKey
from portal.service.portal import Portal
from portal.service.store import Store
from portal.service.texts import t
from portal.service.views import ZoneCard

log = logging.getLogger("portal.app")

TOKEN, LANG = "portal_token", "portal_lang"  # st.session_state keys: this browser session's own
WARN_EVERY_S = 300.0
_warned = [-WARN_EVERY_S]


@st.cache_resource(show_spinner=False)
def _portal(db: str | None, broker: str | None) -> Portal:
    """The process's one Portal: one engine, one MQTT connection, one historian for every session. Not cached
    when it raises (the store down): the next run tries again."""
    store = Store.open(db)
    live = LiveHub(parse_broker_url(broker)).start() if broker else None
    return Portal(store, live, None)


def _historian(url: str) -> Historian | None:
    """The historian, or None while it cannot be opened (a fresh install has no history file until a daemon
    writes one): the history section then says so, and a later run tries again."""
    try:
        return open_history(url)
    except PortalError as err:
        if time.monotonic() - _warned[0] > WARN_EVERY_S:  # every run tries; the log says it now and then
            _warned[0] = time.monotonic()
            log.warning("history unavailable: %s", err)
        return None


def portal() -> Portal:
    door = _portal(os.environ.get(ENV_DB) or None, os.environ.get(ENV_BROKER) or None)
    if door.historian is None:
        door.historian = _historian(os.environ.get(ENV_HISTORIAN) or default_historian_url())
    return door


@dataclass(frozen=True)
class Ctx:
    """One run of one page for one browser session: whom it serves, in which language."""

    portal: Portal
    token: str | None
    principal: Principal | None
    lang: str


def provider_signed_in() -> bool:
    """The province's identity provider has signed this browser in (`st.user`, filled only when OIDC is set up)."""
    return bool(st.user.to_dict().get("is_logged_in"))


def lang() -> str:
    return "en" if st.session_state.get(LANG) == "en" else "ko"


def context() -> Ctx:
    """The session's person, resolved from its token on every run (a session that ended elsewhere ends here)."""
    door = portal()
    token = st.session_state.get(TOKEN)
    principal = door.principal(token) if token else None
    if token and principal is None:
        del st.session_state[TOKEN]
    return Ctx(door, token if principal else None, principal, lang())


@contextmanager
def guard(ctx_lang: str) -> Iterator[None]:
    """Whatever goes wrong inside becomes one sentence on the page, never a traceback: a PortalError in its own
    words, anything else as "could not be shown" with a reference to the log line."""
    try:
        yield
    except PortalError as err:
        st.error(err.text(ctx_lang))
    except Exception:  # Streamlit's rerun/stop are BaseExceptions and pass through
        ref = uuid.uuid4().hex[:8]
        log.exception("page failed (ref %s)", ref)
        st.error(t("page failed", ctx_lang, ref=ref))


_MD = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md(text: object) -> str:
    """Text from the broker or the store made inert in markdown (no link, image, formula or emphasis)."""
    return _MD.sub(r"\\\1", str(text))


def local(when: datetime | None, with_day: bool = True) -> str:
    """A UTC time as Asia/Seoul wall-clock time (storage is UTC, people read local)."""
    if when is None:
        return "-"
    return when.astimezone(SEOUL).strftime("%m-%d %H:%M" if with_day else "%H:%M")


def link_banner(ctx: Ctx) -> bool:
    """The "live data unavailable since ..." banner when the MQTT link is down; True when it is up."""
    health = ctx.portal.link()
    if health.connected:
        return True
    since = t("since time", ctx.lang, t=local(health.since)) if health.since else ""
    st.warning(t("live unavailable", ctx.lang, since=since))
    return False


def zone_labels(cards: list[ZoneCard]) -> dict[ZoneKey, str]:
    """How the picker shows each zone: its registered name (`1동 딸기`), its `site/zone` id where it has none,
    and the id beside a name another zone of the list shares, so no two choices read alike."""
    names = {c.key: c.name if c.name != c.key.zone else str(c.key) for c in cards}
    taken = Counter(names.values())
    return {key: f"{name} ({key})" if taken[name] > 1 else name for key, name in names.items()}


def zone_pick(ctx: Ctx, label_key: str = "pick zone") -> ZoneKey | None:
    """The zone this page is about: `?site=&zone=` in the address (a bookmark, or a link from My farm), else the
    session's last, else the first visible one; a picker lists the zones this person may see, by name (the key
    stays the value). The facade decides whether the zone asked for may be shown: a zone not in the list is
    still passed on (and refused)."""
    cards = ctx.portal.my_zones(ctx.token)  # the zones this person may see, with their names
    visible = [card.key for card in cards]
    labels = zone_labels(cards)
    params = st.query_params
    asked = ZoneKey(params["site"], params["zone"]) if "site" in params and "zone" in params else None
    current = asked or st.session_state.get("portal_zone") or (visible[0] if visible else None)
    if current is None:
        st.info(t("no zones", ctx.lang))
        return None
    options = visible if current in visible else [current, *visible]
    picked = st.selectbox(t(label_key, ctx.lang), options, index=options.index(current),
                          format_func=lambda key: labels.get(key, str(key)),
                          key=f"zone_pick_{label_key}")
    if picked != current or asked is None:
        st.query_params.update({"site": picked.site, "zone": picked.zone})
    st.session_state["portal_zone"] = picked
    return picked


def open_zone(key: ZoneKey, page: str) -> None:
    """Go to a zone's page (`page`: zone.py or controls.py) with the zone in the address."""
    st.session_state["portal_zone"] = key
    st.switch_page(page, query_params={"site": key.site, "zone": key.zone})


def signed_in() -> Ctx:
    """The context of a page that needs a person (every page but sign-in); stops the run when there is none."""
    ctx = context()
    if ctx.principal is None:
        st.info(t("signed out", ctx.lang))
        st.stop()
    return ctx
