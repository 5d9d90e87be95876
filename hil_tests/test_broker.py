"""`farmctl broker config` against a real mosquitto 2 (started here on a free port) with mosquitto_pub/sub as
independent clients: no anonymous access, each daemon account publishes only its own zones, the portal's
commands reach the zone's daemon account."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from farmcore.link.broker import Tls, accounts, write_config
from farmcore.site import load_site
from hil_tests.mosquitto import Mosquitto, free_port, needs_mosquitto

SITE = Path(__file__).resolve().parents[1] / "farmcore" / "twin" / "sites" / "gyeongbuk-demo.toml"
pytestmark = needs_mosquitto


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    with Mosquitto(load_site(SITE), tmp_path / "broker") as mosq:
        yield mosq


def _pub(auth: list[str], topic: str, message: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mosquitto_pub", *auth, "-t", topic, "-m", message, "-q", "1"], capture_output=True,
                          text=True, timeout=10)


def _sub(auth: list[str], topic: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(["mosquitto_sub", *auth, "-t", topic, "-v", "-W", "3"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)  # subscribed before the publishes below
    return proc


def test_anonymous_clients_are_refused(broker: Mosquitto) -> None:
    result = _pub(["-h", "127.0.0.1", "-p", str(broker.port)], "farm/gyeongbuk-demo/gh1/state", "{}")
    assert result.returncode != 0
    assert "not authori" in (result.stderr + result.stdout).lower()


def test_a_daemon_publishes_only_its_own_zones(broker: Mosquitto) -> None:
    farm = broker.auth("farmctl-gyeongbuk-demo")
    watcher = _sub(broker.auth("portal"), "farm/gyeongbuk-demo/+/state")
    assert _pub(farm, "farm/gyeongbuk-demo/gh1/state", "greenhouse-own").returncode == 0
    assert _pub(farm, "farm/gyeongbuk-demo/tank1/state", "greenhouse-forged").returncode == 0  # dropped
    assert _pub(broker.auth("aquactl-gyeongbuk-demo"), "farm/gyeongbuk-demo/gh2/state",
                "tank-forged").returncode == 0  # dropped
    out, _ = watcher.communicate(timeout=10)
    assert "farm/gyeongbuk-demo/gh1/state greenhouse-own" in out
    assert "forged" not in out, "the broker delivered another zone's state from the wrong daemon"


def test_commands_reach_the_zone_daemon_only_on_the_senders_own_branch(broker: Mosquitto) -> None:
    """Each commanding account writes only `.../cmd/ITSELF`: the topic tells the daemon who sent a command,
    and no account can post on another's branch (mosquitto drops such a publish without telling the client)."""
    daemon = _sub(broker.auth("farmctl-gyeongbuk-demo"), "farm/gyeongbuk-demo/gh1/cmd/+")
    assert _pub(broker.auth("portal"), "farm/gyeongbuk-demo/gh1/cmd/portal", '{"id": "1"}').returncode == 0
    assert _pub(broker.auth("technician"), "farm/gyeongbuk-demo/gh1/cmd/portal",
                '{"id": "forged-as-portal"}').returncode == 0  # dropped
    assert _pub(broker.auth("technician"), "farm/gyeongbuk-demo/gh1/cmd", '{"id": "forged-old"}').returncode == 0
    assert _pub(broker.auth("aquactl-gyeongbuk-demo"), "farm/gyeongbuk-demo/gh1/cmd/aquactl-gyeongbuk-demo",
                '{"id": "forged-daemon"}').returncode == 0  # a daemon may not command
    assert _pub(broker.auth("technician"), "farm/gyeongbuk-demo/gh1/cmd/technician", '{"id": "2"}').returncode == 0
    out, _ = daemon.communicate(timeout=10)
    assert 'farm/gyeongbuk-demo/gh1/cmd/portal {"id": "1"}' in out
    assert 'farm/gyeongbuk-demo/gh1/cmd/technician {"id": "2"}' in out
    assert "forged" not in out


def test_credentials_are_kept_private_and_reused(tmp_path: Path) -> None:
    site = load_site(SITE)
    paths = write_config(site, tmp_path / "b", listen="1883")
    first = {a: (paths.credentials / a).read_text() for a in accounts(site)}
    assert all(oct((paths.credentials / a).stat().st_mode & 0o777) == "0o600" for a in first)
    write_config(site, tmp_path / "b", listen="1883")
    assert first == {a: (paths.credentials / a).read_text() for a in accounts(site)}
    assert "password" not in SITE.read_text().lower()


def _certificates(folder: Path) -> Tls:
    """A throw-away CA and a server certificate for 127.0.0.1 (openssl)."""
    folder.mkdir()

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True, timeout=60)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=farm test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    (folder / "ext").write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out",
        "server.pem", "-days", "2", "-extfile", "ext")
    return Tls(folder / "server.pem", folder / "server.key", folder / "ca.pem")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
async def test_tls_listener_carries_a_zone_link_and_refuses_plain_clients(tmp_path: Path) -> None:
    """`broker config --tls-*`: mosquitto serves TLS only; the daemon's link connects with `mqtts://...&ca=`
    (certificate checked against the CA and the host), mosquitto_sub with --cafile reads what it publishes,
    and a plain-text client is refused."""
    import asyncio

    from farmcore.link.brokerurl import parse_broker_url
    from farmcore.link.client import ZoneLink

    mosq = Mosquitto(load_site(SITE), tmp_path / "broker", tls=_certificates(tmp_path / "tls")).start()
    try:
        assert "certfile" in mosq.paths.conf.read_text()
        reader = subprocess.Popen(["mosquitto_sub", *mosq.auth("technician"), "-t", "farm/gyeongbuk-demo/gh1/status",
                                   "-C", "1", "-W", "10"], stdout=subprocess.PIPE, text=True)

        async def answer(zone: str, payload: bytes, account: str | None) -> bytes:
            return b"{}"

        link = ZoneLink(parse_broker_url(mosq.url("farmctl-gyeongbuk-demo")), "gyeongbuk-demo", "gh1",
                        client_id="farmctl-gyeongbuk-demo-gh1", on_command=answer)
        task = asyncio.create_task(link.run())
        out, _ = await asyncio.to_thread(reader.communicate, timeout=15)
        link.close()
        await asyncio.wait_for(task, 5)
        plain = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(mosq.port), "-u", "portal", "-P",
                                mosq.password("portal"), "-t", "farm/gyeongbuk-demo/gh1/cmd/portal", "-m", "{}"],
                               capture_output=True, text=True, timeout=10)
    finally:
        mosq.stop()
    assert link.connects == 1 and out.strip() == "online"
    assert plain.returncode != 0, "a plain-text client got through the TLS listener"


def _is_root_with_a_mosquitto_user() -> bool:
    try:
        pwd.getpwnam("mosquitto")
    except KeyError:
        return False
    return os.geteuid() == 0


@pytest.mark.skipif(not _is_root_with_a_mosquitto_user(), reason="needs root and Debian's mosquitto user")
def test_the_printed_command_works_when_run_as_root() -> None:
    """`mosquitto -c CONF` as printed, started by root: mosquitto drops to its own user before it reads the
    password and ACL files, so they are handed to that user (this once failed: `Unable to open pwfile`)."""
    folder = Path(tempfile.mkdtemp(prefix="farm-broker-"))  # under /tmp (1777), reachable by any user
    try:
        folder.chmod(0o755)
        port = free_port()
        result = subprocess.run([sys.executable, "-m", "farmctl.cli", "broker", "config", "--site", str(SITE),
                                 "--out", str(folder / "broker"), "--listen", f"127.0.0.1:{port}"],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0 and "warning" not in result.stderr, result.stderr
        passwd = (folder / "broker" / "passwd").stat()
        group = pwd.getpwnam("mosquitto").pw_gid
        assert (passwd.st_uid, passwd.st_gid, passwd.st_mode & 0o777) == (0, group, 0o640), "readable, not writable"
        command = result.stdout.strip().splitlines()[-1].removeprefix("run: ").split()
        assert command[0] == "mosquitto"
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            password = (folder / "broker" / "credentials" / "technician").read_text().strip()
            deadline = time.monotonic() + 10
            while True:
                sent = _pub(["-h", "127.0.0.1", "-p", str(port), "-u", "technician", "-P", password],
                            "farm/gyeongbuk-demo/gh1/cmd/technician", "{}")
                if sent.returncode == 0 or time.monotonic() > deadline or proc.poll() is not None:
                    break
                time.sleep(0.2)
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=10)
        assert sent.returncode == 0, f"{sent.stderr} / mosquitto: {err}"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.skipif(not _is_root_with_a_mosquitto_user(), reason="needs root and Debian's mosquitto user")
def test_a_folder_the_broker_user_cannot_reach_is_named(tmp_path: Path) -> None:
    hidden = tmp_path / "private"
    hidden.mkdir(mode=0o700)
    files = write_config(load_site(SITE), hidden / "broker", listen="127.0.0.1:1883")
    assert len(files.warnings) == 1 and str(hidden) in files.warnings[0] and "--out" in files.warnings[0]
