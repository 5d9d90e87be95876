"""The durable spool: order, ack, the bound and its policy, alarm events, reopen and kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from farmcore.historian.base import Point, SpoolAlarm
from farmcore.historian.lineproto import encode
from farmcore.historian.spool import ROW_OVERHEAD, Spool, SpoolError

pytestmark = pytest.mark.timeout(60)

T0 = datetime(2025, 1, 1, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[1]


def pts(n: int, *, kind: str = "sensor", start: int = 0, name: str = "air_temperature") -> list[Point]:
    fields = {"message": f"m{start}"} if kind == "event" else {"value": 0.0}
    return [Point(kind=kind, site="s1", zone="gh1", name=name, time=T0 + timedelta(seconds=start + i),
                  fields=fields if kind == "event" else {"value": float(start + i)},
                  quality="good" if kind == "sensor" else None)
            for i in range(n)]


def lines_of(spool: Spool) -> list[str]:
    return [line for _, line in spool.peek(10**9)]


def test_append_peek_in_order_and_ack_up_to_seq(tmp_path):
    with Spool(tmp_path / "s.db") as spool:
        first, second = pts(3), pts(2, start=3)
        assert spool.append(first) == 3
        spool.append(second)
        peeked = spool.peek(10)
        assert [line for _, line in peeked] == [encode(p) for p in first + second]
        seqs = [seq for seq, _ in peeked]
        assert seqs == sorted(seqs) and len(set(seqs)) == 5
        assert spool.peek(2) == peeked[:2]  # peek removes nothing
        assert spool.depth() == 5
        assert spool.bytes() == sum(len(line.encode()) + ROW_OVERHEAD for _, line in peeked)
        assert spool.ack(seqs[2]) == 3
        assert spool.peek(10) == peeked[3:]
        assert spool.depth() == 2
        assert spool.ack(seqs[2]) == 0  # acking again is harmless
        spool.ack(seqs[-1])
        assert spool.depth() == 0 and spool.bytes() == 0 and spool.peek(5) == []


def test_mixed_kinds_and_korean_text_keep_their_order_and_utf8_size(tmp_path):
    mixed = [Point(kind=kind, site="농장", zone="온실 1", name=f"{kind}_{i}", time=T0 + timedelta(seconds=i),
                   fields={"message": "환기창 열림"} if kind == "event" else {"value": float(i)})
             for i, kind in enumerate(["sensor", "event", "actuator", "sensor", "setpoint", "event"] * 3)]
    with Spool(tmp_path / "s.db") as spool:
        spool.append(mixed)
        assert lines_of(spool) == [encode(p) for p in mixed]
        assert spool.bytes() == sum(len(encode(p).encode()) + ROW_OVERHEAD for p in mixed)
        tiers = [t for (t,) in spool._db.execute("SELECT tier FROM outbox ORDER BY seq")]
        assert tiers == [{"sensor": 0, "setpoint": 1, "actuator": 1, "event": 2}[p.kind] for p in mixed]
        with pytest.raises(ValueError, match="tiers"):
            spool.append_lines(["a b=1 1"], "3")


def test_sequence_numbers_are_never_reused_after_draining(tmp_path):
    with Spool(tmp_path / "s.db") as spool:
        spool.append(pts(3))
        last = spool.last_seq()
        spool.ack(last)
        spool.append(pts(1, start=10))
        assert spool.peek(1)[0][0] == last + 1
        assert spool.head_seq() == last + 1


def test_reopen_keeps_queued_points_and_forgets_acked_ones(tmp_path):
    path = tmp_path / "s.db"
    with Spool(path) as spool:
        spool.append(pts(5))
        spool.ack(spool.peek(2)[-1][0])
        kept = spool.peek(10)
    with Spool(path) as spool:
        assert spool.peek(10) == kept
        assert spool.depth() == 3
        assert spool.bytes() == sum(len(line.encode()) + ROW_OVERHEAD for _, line in kept)


def test_a_batch_with_an_unencodable_point_stores_nothing(tmp_path):
    with Spool(tmp_path / "s.db") as spool:
        bad = Point(kind="sensor", site="s1", zone="gh1", name="x\\", time=T0, fields={"value": 1.0})
        with pytest.raises(ValueError):
            spool.append([*pts(2), bad])
        assert spool.depth() == 0


def test_a_second_writer_is_refused_but_a_reader_may_look(tmp_path):
    path = tmp_path / "s.db"
    with Spool(path) as spool:
        spool.append(pts(3))
        code = textwrap.dedent(f"""
            from farmcore.historian.spool import Spool, SpoolInUse
            try:
                Spool({str(path)!r})
            except SpoolInUse as exc:
                print("refused:", exc)
            reader = Spool({str(path)!r}, read_only=True)
            print("depth", reader.stats()["spool_depth"])
            try:
                reader.append([])
                reader.ack(10)
            except Exception as exc:
                print("reader:", exc)
        """)
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, cwd=ROOT)
        assert "refused: spool" in result.stdout and "in use by another process" in result.stdout
        assert "depth 3" in result.stdout
        assert "is open read-only" in result.stdout
        spool.append(pts(1, start=5))  # the writer is unaffected
    with Spool(path) as spool:  # closed: free again
        assert spool.depth() == 4


def test_closed_spool_raises(tmp_path):
    spool = Spool(tmp_path / "s.db")
    spool.close()
    spool.close()
    with pytest.raises(SpoolError, match="closed"):
        spool.append(pts(1))


def test_reject_moves_a_line_aside(tmp_path):
    with Spool(tmp_path / "s.db") as spool:
        spool.append(pts(3))
        (seq1, _), (seq2, line2), (seq3, _) = spool.peek(3)
        spool.reject(seq2, "HTTP 400: field type conflict")
        assert [s for s, _ in spool.peek(3)] == [seq1, seq3]
        assert spool.rejected_lines() == [(seq2, line2, "HTTP 400: field type conflict")]
        assert spool.stats()["spool_rejected"] == 1 and spool.depth() == 2


# -- the bound --------------------------------------------------------------------------------------------------


def line_bytes(points: list[Point]) -> int:
    return sum(len(encode(p).encode()) + ROW_OVERHEAD for p in points)


def test_full_drops_oldest_sensor_points_first_never_events(tmp_path):
    alarms: list[SpoolAlarm] = []
    events, actuators = pts(3, kind="event", name="alarm"), pts(30, kind="actuator", name="vent")
    sensors = pts(200)
    budget = line_bytes(events) + line_bytes(actuators) + line_bytes(sensors[:100])
    with Spool(tmp_path / "s.db", max_bytes=budget, on_full=alarms.append) as spool:
        spool.append(events[:1] + actuators[:10])
        spool.append(sensors[:100])
        spool.append(events[1:2] + actuators[10:])
        spool.append(sensors[100:])  # over the bound: the oldest sensor points go
        spool.append(events[2:])
        kept = lines_of(spool)
        assert all(encode(p) in kept for p in events + actuators)  # never dropped (actuators: sensors were left)
        kept_sensors = [p for p in sensors if encode(p) in kept]
        assert kept_sensors == sensors[len(sensors) - len(kept_sensors):]  # the newest ones, a suffix
        assert 90 <= len(kept_sensors) < 100
        assert spool.bytes() <= budget
        stats = spool.stats()
        assert stats["spool_dropped_sensor"] == 200 - len(kept_sensors)
        assert stats["spool_dropped_setpoint_actuator"] == 0
    assert [(a.code, a.state) for a in alarms] == [("spool_nearly_full", "raised"), ("spool_full", "raised")]
    assert alarms[1].dropped >= 1
    # the alarms are also in the spool as event points, so the server learns about the gap
    alarm_lines = [line for line in kept if line.startswith("event,name=spool_")]
    assert len(alarm_lines) == 2
    assert 'state="raised"' in alarm_lines[1] and "zone=_historian" in alarm_lines[1]
    assert "dropped=" in alarm_lines[1]


def test_setpoints_and_actuators_go_only_when_no_sensor_is_left(tmp_path):
    actuators = pts(100, kind="actuator", name="vent")
    budget = line_bytes(actuators[:60])
    with Spool(tmp_path / "s.db", max_bytes=budget) as spool:
        spool.append(pts(20))
        spool.append(actuators)
        kept = lines_of(spool)
        assert not [line for line in kept if line.startswith("sensor,")]
        kept_act = [p for p in actuators if encode(p) in kept]
        assert kept_act == actuators[len(actuators) - len(kept_act):]
        assert 50 <= len(kept_act) < 60
        assert spool.stats()["spool_dropped_sensor"] == 20
        assert spool.stats()["spool_dropped_setpoint_actuator"] == 100 - len(kept_act)
        assert spool.bytes() <= budget


def test_events_alone_may_exceed_the_bound_rather_than_be_dropped(tmp_path):
    alarms: list[SpoolAlarm] = []
    events = pts(30, kind="event", name="alarm")
    with Spool(tmp_path / "s.db", max_bytes=line_bytes(events[:10]), on_full=alarms.append) as spool:
        for i in range(0, 30, 5):
            spool.append(events[i:i + 5])
        kept = lines_of(spool)
        assert all(encode(p) in kept for p in events)
        assert spool.bytes() > spool.max_bytes
    assert ("spool_full", "raised") in [(a.code, a.state) for a in alarms]


def test_alarms_clear_when_the_spool_drains_and_state_survives_reopen(tmp_path):
    path = tmp_path / "s.db"
    alarms: list[SpoolAlarm] = []
    sensors = pts(400)
    budget = line_bytes(sensors[:200])
    with Spool(path, max_bytes=budget, on_full=alarms.append) as spool:
        spool.append(sensors)
        assert [a.state for a in alarms] == ["raised", "raised"]
    alarms.clear()
    with Spool(path, max_bytes=budget, on_full=alarms.append) as spool:
        spool.append(pts(1, start=100))
        assert alarms == []  # still raised from before the restart: not raised twice
        assert spool.stats()["spool_alarms"] == ["spool_full", "spool_nearly_full"]
        spool.ack(spool.peek(10**6)[-1][0])
        assert sorted((a.code, a.state) for a in alarms) == [("spool_full", "cleared"),
                                                             ("spool_nearly_full", "cleared")]
        assert spool.stats()["spool_alarms"] == []
        cleared = lines_of(spool)  # the clear events wait to be sent
        assert len(cleared) == 2 and all('state="cleared"' in line for line in cleared)


def test_a_failing_alarm_callback_does_not_break_append(tmp_path):
    def boom(alarm):
        raise RuntimeError("callback bug")

    with Spool(tmp_path / "s.db", max_bytes=line_bytes(pts(20)), on_full=boom) as spool:
        spool.append(pts(100))
        assert spool.depth() > 0


# -- crash safety -----------------------------------------------------------------------------------------------

_WRITER = textwrap.dedent("""
    import sys
    from datetime import UTC, datetime, timedelta
    from farmcore.historian.base import Point
    from farmcore.historian.spool import Spool
    spool = Spool(sys.argv[1])
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    i = 0
    while True:
        batch = [Point(kind="sensor", site="s1", zone="gh1", name=f"n{k}", time=t0 + timedelta(seconds=i),
                       fields={"value": float(i)}) for k in range(100)]
        spool.append(batch)
        print(i, flush=True)  # the caller has been told: these 100 points are stored
        i += 1
""")


def test_kill_9_loses_no_acknowledged_append_and_leaves_no_half_batch(tmp_path):
    path = tmp_path / "s.db"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, text=True,
                            cwd=ROOT)
    told = -1
    deadline = time.monotonic() + 30
    while told < 30 and time.monotonic() < deadline:
        told = int(proc.stdout.readline())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert told >= 30
    with Spool(path) as spool:
        lines = lines_of(spool)
    assert len(lines) % 100 == 0  # whole transactions only
    ticks = [int(line.rsplit(" ", 1)[1]) for line in lines[::100]]
    stored = len(lines) // 100
    assert stored >= told + 1  # every append the writer reported is there (maybe one more it did not report)
    assert ticks == [int((T0 + timedelta(seconds=i)).timestamp()) * 10**9 for i in range(stored)]  # in order
    assert len(set(lines)) == len(lines)


def test_stats_report_sizes_and_time_span(tmp_path):
    with Spool(tmp_path / "s.db", max_bytes=10**6) as spool:
        spool.append(pts(3))
        stats = spool.stats()
    assert stats["spool_depth"] == 3
    assert stats["spool_first_time"] == T0.isoformat()
    assert stats["spool_last_time"] == (T0 + timedelta(seconds=2)).isoformat()
    assert stats["spool_file_bytes"] > 0
    json.dumps(stats)
