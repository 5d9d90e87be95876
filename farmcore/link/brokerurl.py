"""MQTT broker URLs: where a daemon or a technician's command line connects, and as whom.

    mqtt://[USER@]HOST[:1883][?password_file=PATH | password_env=NAME]
    mqtts://[USER@]HOST[:8883][?ca=PATH&cert=PATH&key=PATH&password_file=...]

No secret in a URL (a site file is copied and mailed): the password comes from a file or an environment
variable, and a URL with one is refused. Errors are one line naming the part that is wrong.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import aiomqtt

from farmcore.errors import BadInput

PASSWORD_ENV = "FARMCTL_MQTT_PASSWORD"  # default password source when the URL names a user and no source
URL_KEYS = ("password_file", "password_env", "ca", "cert", "key")
URL_FORMS = "mqtt://[USER@]HOST[:PORT][?password_file=PATH|password_env=NAME] or mqtts://...&ca=PATH"
# An ack follows the PUBACK of its command at once: with Nagle on, it waits for the broker's delayed TCP ACK
# (~40 ms on Linux). Commands and acks are small and latency-bound, so no Nagle on our sockets.
NODELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)


@dataclass(frozen=True)
class BrokerUrl:
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    ca: str | None = None
    cert: str | None = None
    key: str | None = None

    @property
    def shown(self) -> str:
        """The URL as it may be printed (it never holds the password)."""
        user = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"

    def client(self, identifier: str, *, will: aiomqtt.Will | None = None, clean_session: bool = True,
               keepalive: int = 30, timeout: float = 10.0) -> aiomqtt.Client:
        tls = aiomqtt.TLSParameters(ca_certs=self.ca, certfile=self.cert, keyfile=self.key) if self.tls else None
        return aiomqtt.Client(self.host, self.port, username=self.username, password=self.password,
                              identifier=identifier, will=will, clean_session=clean_session, keepalive=keepalive,
                              timeout=timeout, tls_params=tls, socket_options=NODELAY)


def parse_broker_url(url: str, *, environ: dict[str, str] | None = None) -> BrokerUrl:
    """A broker URL -> `BrokerUrl` with its password read; BadInput naming the part that is wrong."""
    env = os.environ if environ is None else environ
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BadInput(f"broker URL {url!r}: {exc}; expected {URL_FORMS}") from None
    if parts.scheme not in ("mqtt", "mqtts"):
        raise BadInput(f"broker URL {url!r}: scheme {parts.scheme!r}; expected {URL_FORMS}")
    if not parts.hostname:
        raise BadInput(f"broker URL {url!r}: no host; expected {URL_FORMS}")
    if parts.password is not None:
        raise BadInput(f"broker URL {parts.scheme}://{parts.username}:***@{parts.hostname}: a password in the URL "
                       "leaks with the site file; use password_file=PATH or password_env=NAME")
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(params) - set(URL_KEYS))
    if unknown:
        raise BadInput(f"broker URL {url!r}: unknown parameter {unknown[0]!r}; allowed: {', '.join(URL_KEYS)}")
    if "password_file" in params and "password_env" in params:
        raise BadInput(f"broker URL {url!r}: give password_file or password_env, not both")
    password = None
    if "password_file" in params:
        path = Path(params["password_file"]).expanduser()
        try:
            password = path.read_text().strip()
        except OSError as exc:
            raise BadInput(f"broker URL {url!r}: password_file {path}: {exc.strerror or exc}") from None
    elif "password_env" in params:
        name = params["password_env"]
        if name not in env:
            raise BadInput(f"broker URL {url!r}: environment variable {name} (password_env) is not set")
        password = env[name]
    elif parts.username:
        password = env.get(PASSWORD_ENV)
    tls = parts.scheme == "mqtts"
    if not tls and any(k in params for k in ("ca", "cert", "key")):
        raise BadInput(f"broker URL {url!r}: ca/cert/key need mqtts://")
    return BrokerUrl(parts.hostname, port or (8883 if tls else 1883), parts.username or None, password, tls,
                     params.get("ca"), params.get("cert"), params.get("key"))
