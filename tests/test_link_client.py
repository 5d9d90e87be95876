"""The MQTT link without a broker: broker URLs, the state rate, the bounded queue of events and acks."""

from __future__ import annotations

import itertools

import pytest

from farmcore.errors import BadInput
from farmcore.link.brokerurl import BrokerUrl, parse_broker_url
from farmcore.link.client import ZoneLink


def test_broker_urls(tmp_path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    u = parse_broker_url(f"mqtt://farmctl-demo@broker.local?password_file={secret}")
    assert (u.host, u.port, u.username, u.password, u.tls) == ("broker.local", 1883, "farmctl-demo", "s3cret", False)
    assert "s3cret" not in repr(u) and u.shown == "mqtt://farmctl-demo@broker.local:1883"
    t = parse_broker_url("mqtts://portal@10.0.0.2?password_env=PW&ca=/etc/ca.pem", environ={"PW": "x"})
    assert (t.port, t.tls, t.ca, t.password) == (8883, True, "/etc/ca.pem", "x")
    assert parse_broker_url("mqtt://u@h", environ={"FARMCTL_MQTT_PASSWORD": "p"}).password == "p"
    assert parse_broker_url("mqtt://127.0.0.1:1884").username is None


@pytest.mark.parametrize(("url", "says"), [
    ("mqtt://u:pw@h", "password in the URL"),
    ("http://h", "scheme"),
    ("mqtt://", "no host"),
    ("mqtt://h?token=1", "unknown parameter 'token'"),
    ("mqtt://h?password_file=/nonexistent/pw", "password_file"),
    ("mqtt://h?password_env=NOPE_NOT_SET", "NOPE_NOT_SET"),
    ("mqtt://h?ca=/x", "need mqtts"),
    ("mqtt://h:99999", "mqtt://h:99999"),
])
def test_bad_broker_urls_are_one_clear_line(url: str, says: str) -> None:
    with pytest.raises(BadInput, match=says) as err:
        parse_broker_url(url, environ={})
    assert "\n" not in str(err.value) and ":pw@" not in str(err.value)


async def _ack(zone: str, payload: bytes, account: str | None) -> bytes:
    return b"{}"


def _link(clock: list[float], **kw: object) -> ZoneLink:
    return ZoneLink(BrokerUrl("127.0.0.1", 1), "site", "gh1", client_id="farmctl-site-gh1", on_command=_ack,
                    monotonic=lambda: clock[0], **kw)  # type: ignore[arg-type]


async def test_state_at_most_once_a_second_and_built_only_when_due() -> None:
    clock = [100.0]
    link = _link(clock)
    built = []

    def build() -> dict[str, int]:
        built.append(clock[0])
        return {"n": len(built)}

    published = 0
    for step in range(100):  # a tick every 0.25 s for 25 s, with jitter of a few ms
        clock[0] = 100.0 + step * 0.25 + (0.003 if step % 3 else -0.003)
        published += link.offer_state(build)
    assert published == len(built) and 24 <= published <= 26
    assert all(b - a >= 0.8 for a, b in itertools.pairwise(built))
    # a 1 s tick that comes a few milliseconds early still publishes every time
    clock[0], count = 0.0, 0
    link2 = _link(clock)
    for step in range(60):
        clock[0] = step * 1.0 - (0.004 if step % 2 else 0.0)
        count += link2.offer_state(dict)
    assert count == 60


async def test_events_and_acks_queue_is_bounded_oldest_dropped_first() -> None:
    link = _link([0.0], queue_max=5)
    for i in range(8):
        link.send_event({"i": i})
    assert len(link.queue) == 5 and link.dropped == 3
    assert next(p for _t, p in link.queue) == b'{"i":3}'
    assert all(t == "farm/site/gh1/events" for t, _p in link.queue)


async def test_alarm_list_is_republished_only_when_it_changes() -> None:
    link = _link([0.0])
    link.set_alarms([{"id": "a"}])
    link._alarms_dirty = False  # as if sent
    link.set_alarms([{"id": "a"}])
    assert not link._alarms_dirty
    link.set_alarms([])
    assert link._alarms_dirty and link._alarms == b"[]"
