"""`farmctl portal serve`: bad URLs are one line before any server starts, the server is Streamlit itself (exec,
so a SIGTERM stops it with nothing left behind), and the app gets its store, broker and historian by the
environment variables README § Portal names."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from farmctl.cli import main
from portal import serve

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def farmctl(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = 0
    try:
        main(["portal", "serve", *args])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def english(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FARMCTL_LANG", "en")
    monkeypatch.setenv("FARMCTL_STATE_DIR", str(tmp_path / "state"))
    for name in (serve.ENV_DB, serve.ENV_BROKER, serve.ENV_HISTORIAN):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(os, "execve", lambda *a: pytest.fail(f"a server was started: {a[1]}"))


@pytest.mark.parametrize(("option", "value", "words"), [
    ("--broker", "http://portal@host", "mqtt"),
    ("--broker", "mqtt://portal:secret@host", "password"),
    ("--historian", "ftp://somewhere", "historian"),
    ("--db", "mysql://x@y/z", "allowed are"),
    ("--port", "70000", "70000"),
])
def test_a_bad_url_is_one_line_and_no_server_starts(capsys: pytest.CaptureFixture[str], option: str, value: str,
                                                     words: str) -> None:
    code, out, err = farmctl(capsys, option, value)
    assert code == 2 and out == "", (code, out, err)
    assert words in err and err.strip().count("\n") <= 1, err


def test_an_unreachable_database_is_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = farmctl(capsys, "--db", f"postgresql+psycopg://portal@127.0.0.1:{free_port()}/portal")
    assert code == 1 and out == "" and err.strip().count("\n") == 0, (code, err)


def test_the_app_gets_the_three_urls_and_an_outer_one_cannot_leak_in() -> None:
    outer = {"PATH": "/bin", serve.ENV_BROKER: "mqtt://someone-else@elsewhere"}
    env = serve.app_env("sqlite:////srv/portal.db", None, "sqlite:////srv/history.db", outer)
    assert env[serve.ENV_DB] == "sqlite:////srv/portal.db" and env[serve.ENV_HISTORIAN] == "sqlite:////srv/history.db"
    assert serve.ENV_BROKER not in env and env["PATH"] == "/bin"
    args = serve.streamlit_args("0.0.0.0", 8600)
    flags = dict(zip(args[4::2], args[5::2], strict=True))
    assert args[:4] == ["-m", "streamlit", "run", str(ROOT / "portal" / "app" / "main.py")]
    assert flags["--server.address"] == "0.0.0.0" and flags["--server.port"] == "8600"
    assert flags["--server.headless"] == "true" and flags["--browser.gatherUsageStats"] == "false"
    assert flags["--client.showErrorDetails"] == "none"


def test_serve_becomes_the_streamlit_server_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "FARMCTL_STATE_DIR": str(tmp_path / "state"), "FARMCTL_LANG": "en"}
    proc = subprocess.Popen([sys.executable, "-m", "farmctl.cli", "portal", "serve", "--port", str(port),
                             "--db", f"sqlite:///{tmp_path / 'portal.db'}"], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, health = time.monotonic() + 60, ""
        while health != "ok" and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
            with contextlib.suppress(OSError), urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health",
                                                                      timeout=2) as answer:
                health = answer.read().decode().strip()
        assert health == "ok", proc.stdout.read() if proc.poll() is not None else "no health answer in 60 s"
        assert "streamlit" in Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode(errors="replace")
        assert (tmp_path / "portal.db").exists()  # opened and migrated before the server started
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) is not None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
