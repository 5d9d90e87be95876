"""A real mosquitto 2 for the tests: configured by `farmctl broker config`, on a free port, restartable."""

from __future__ import annotations

import contextlib
import getpass
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from farmcore.link.broker import Tls, write_config
from farmcore.site import SiteFile

needs_mosquitto = pytest.mark.skipif(
    shutil.which("mosquitto") is None or shutil.which("mosquitto_pub") is None,
    reason="mosquitto and mosquitto-clients are not installed (.ci/run installs them)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mosquitto:
    """mosquitto -c <generated conf>; `credentials` holds one password file per account."""

    def __init__(self, site: SiteFile, folder: Path, port: int | None = None, *, persistence: bool = False,
                 tls: Tls | None = None) -> None:
        self.port = port or free_port()
        self.tls = tls
        self.paths = write_config(site, folder, listen=f"127.0.0.1:{self.port}", run_as=getpass.getuser(), tls=tls)
        if persistence:  # sessions and retained messages survive a restart (saved on SIGTERM)
            with self.paths.conf.open("a") as f:
                f.write(f"persistence true\npersistence_location {folder.resolve()}/\n")
        self.credentials = self.paths.credentials
        self.proc: subprocess.Popen[str] | None = None

    def password(self, account: str) -> str:
        return (self.credentials / account).read_text().strip()

    def url(self, account: str) -> str:
        """The broker URL of an account, password from its credentials file (as a daemon would be set up)."""
        url = f"mqtt://{account}@127.0.0.1:{self.port}?password_file={self.credentials / account}"
        if self.tls is not None:
            url = url.replace("mqtt://", "mqtts://") + (f"&ca={self.tls.cafile}" if self.tls.cafile else "")
        return url

    def auth(self, account: str) -> list[str]:
        """mosquitto_pub/sub arguments for an account."""
        args = ["-h", "127.0.0.1", "-p", str(self.port), "-u", account, "-P", self.password(account)]
        if self.tls is not None and self.tls.cafile is not None:
            args += ["--cafile", str(self.tls.cafile)]
        return args

    def start(self) -> Mosquitto:
        self.proc = subprocess.Popen(["mosquitto", "-c", str(self.paths.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return self
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"mosquitto did not start: {self.proc.stderr.read() if self.proc.stderr else ''}")
            time.sleep(0.05)

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
