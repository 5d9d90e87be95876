"""The OPID counter: changes with every command, never 0, survives restarts, shared by processes."""

import multiprocessing

import pytest

from farmcore.fieldbus.opid import OPID_MAX, OpidStore


def test_counts_up_from_one_and_survives_a_restart(tmp_path):
    path = tmp_path / "opid"
    store = OpidStore(path)
    assert [store.next() for _ in range(3)] == [1, 2, 3]
    assert OpidStore(path).next() == 4  # a new process on the same file


def test_wraps_past_65535_to_1_never_0(tmp_path):
    path = tmp_path / "opid"
    path.write_text(f"{OPID_MAX - 1}\n")
    store = OpidStore(path)
    assert [store.next() for _ in range(3)] == [OPID_MAX, 1, 2]


def test_a_damaged_file_restarts_the_count(tmp_path):
    path = tmp_path / "opid"
    path.write_text("garbage")
    assert OpidStore(path).next() == 1


def _take(path, n, block, queue):
    store = OpidStore(path, block=block)
    queue.put([store.next() for _ in range(n)])


@pytest.mark.parametrize("block", [1, 8])
def test_two_processes_never_get_the_same_opid(tmp_path, block):
    path = tmp_path / "opid"
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_take, args=(path, 50, block, queue)) for _ in range(2)]
    for p in procs:
        p.start()
    got = queue.get(timeout=20) + queue.get(timeout=20)
    for p in procs:
        p.join(10)
    assert len(set(got)) == 100
    if block == 1:
        assert sorted(got) == list(range(1, 101)), "one at a time: none skipped"


def test_default_location_follows_the_state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("FARMCTL_STATE_DIR", str(tmp_path))
    assert OpidStore().path == tmp_path / "opid"


def test_a_block_is_reserved_with_one_write_and_never_handed_out_twice(tmp_path):
    path = tmp_path / "opid"
    store = OpidStore(path, block=256)
    first = [store.next() for _ in range(300)]
    assert first == list(range(1, 301)) and store.reservations == 2, "two fsynced writes for 300 OPIDs"
    assert path.read_text().strip() == "512", "the file holds the end of the reserved block"
    assert OpidStore(path, block=256).next() == 513, "a restart starts after every OPID that could have gone out"


def test_blocks_wrap_past_65535_to_1(tmp_path):
    path = tmp_path / "opid"
    path.write_text(f"{OPID_MAX - 2}\n")
    store = OpidStore(path, block=4)
    assert [store.next() for _ in range(4)] == [OPID_MAX - 1, OPID_MAX, 1, 2]
    assert path.read_text().strip() == "2"
