"""`farmctl broker config` against a real mosquitto 2 (started here on a free port) with mosquitto_pub/sub as
independent clients: no anonymous access, each daemon account publishes only its own zones, the portal's
commands reach the zone's daemon account."""

from __future__ import annotations

import contextlib
import getpass
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from farmcore.link.broker import accounts, write_config
from farmcore.site import load_site

SITE = Path(__file__).resolve().parents[1] / "farmcore" / "twin" / "sites" / "gyeongbuk-demo.toml"
pytestmark = pytest.mark.skipif(shutil.which("mosquitto") is None or shutil.which("mosquitto_pub") is None,
                                reason="mosquitto and mosquitto-clients are not installed (.ci/run installs them)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    port = _free_port()
    paths = write_config(load_site(SITE), tmp_path / "broker", listen=f"127.0.0.1:{port}", run_as=getpass.getuser())
    proc = subprocess.Popen(["mosquitto", "-c", str(paths["conf"])], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            break
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"mosquitto did not start: {proc.stderr.read() if proc.stderr else ''}")
        time.sleep(0.05)
    try:
        yield port, tmp_path / "broker" / "credentials"
    finally:
        proc.terminate()
        proc.wait(5)


def _auth(credentials: Path, account: str) -> list[str]:
    return ["-u", account, "-P", (credentials / account).read_text().strip()]


def _pub(port: int, auth: list[str], topic: str, message: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), *auth, "-t", topic, "-m", message,
                           "-q", "1"], capture_output=True, text=True, timeout=10)


def _sub(port: int, auth: list[str], topic: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), *auth, "-t", topic, "-v",
                             "-W", "3"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)  # subscribed before the publishes below
    return proc


def test_anonymous_clients_are_refused(broker: tuple[int, Path]) -> None:
    port, _ = broker
    result = _pub(port, [], "farm/gyeongbuk-demo/gh1/state", "{}")
    assert result.returncode != 0
    assert "not authori" in (result.stderr + result.stdout).lower()


def test_a_daemon_publishes_only_its_own_zones(broker: tuple[int, Path]) -> None:
    port, creds = broker
    farm = _auth(creds, "farmctl-gyeongbuk-demo")
    watcher = _sub(port, _auth(creds, "portal"), "farm/gyeongbuk-demo/+/state")
    assert _pub(port, farm, "farm/gyeongbuk-demo/gh1/state", "greenhouse-own").returncode == 0
    assert _pub(port, farm, "farm/gyeongbuk-demo/tank1/state", "greenhouse-forged").returncode == 0  # dropped
    assert _pub(port, _auth(creds, "aquactl-gyeongbuk-demo"), "farm/gyeongbuk-demo/gh2/state",
                "tank-forged").returncode == 0  # dropped
    out, _ = watcher.communicate(timeout=10)
    assert "farm/gyeongbuk-demo/gh1/state greenhouse-own" in out
    assert "forged" not in out, "the broker delivered another zone's state from the wrong daemon"


def test_portal_commands_reach_the_zone_daemon_only(broker: tuple[int, Path]) -> None:
    port, creds = broker
    daemon = _sub(port, _auth(creds, "farmctl-gyeongbuk-demo"), "farm/gyeongbuk-demo/gh1/cmd")
    assert _pub(port, _auth(creds, "portal"), "farm/gyeongbuk-demo/gh1/cmd", '{"id": "1"}').returncode == 0
    assert _pub(port, _auth(creds, "aquactl-gyeongbuk-demo"), "farm/gyeongbuk-demo/gh1/cmd",
                '{"id": "forged"}').returncode == 0  # a daemon may not command
    out, _ = daemon.communicate(timeout=10)
    assert '{"id": "1"}' in out and "forged" not in out


def test_credentials_are_kept_private_and_reused(tmp_path: Path) -> None:
    site = load_site(SITE)
    paths = write_config(site, tmp_path / "b", listen="1883")
    first = {a: (paths["credentials"] / a).read_text() for a in accounts(site)}
    assert all(oct((paths["credentials"] / a).stat().st_mode & 0o777) == "0o600" for a in first)
    write_config(site, tmp_path / "b", listen="1883")
    assert first == {a: (paths["credentials"] / a).read_text() for a in accounts(site)}
    assert "password" not in SITE.read_text().lower()
