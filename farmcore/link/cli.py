"""`broker config --site SITE.toml`: the mosquitto files of a site (accounts, passwords, per-zone ACLs)."""

from __future__ import annotations

from pathlib import Path

import click

from farmcore.link.broker import Tls, accounts, write_config
from farmcore.site import load_site


@click.group("broker")
def broker() -> None:
    """The MQTT broker of a site (mosquitto)."""


@broker.command("config")
@click.option("--site", "site_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "folder", default="broker", show_default=True, type=click.Path(file_okay=False, path_type=Path),
              help="where mosquitto.conf, passwd, acl and credentials/ go")
@click.option("--listen", default="0.0.0.0:1883", show_default=True, help="HOST:PORT of the listener")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="server certificate")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="its private key")
@click.option("--tls-ca", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="client certs CA")
@click.option("--rotate", is_flag=True, help="make new passwords (daemons need the new credentials)")
@click.option("--run-as", help="the user mosquitto runs as when started as root (default: mosquitto); as root, "
              "the password and ACL files are handed to that user")
def config(site_path: Path, folder: Path, listen: str, tls_cert: Path | None, tls_key: Path | None,
           tls_ca: Path | None, rotate: bool, run_as: str | None) -> None:
    """Write mosquitto.conf, passwd and acl: each daemon may publish only its own zones, the portal any cmd."""
    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("--tls-cert and --tls-key go together")
    site = load_site(site_path)
    tls = Tls(tls_cert, tls_key, tls_ca) if tls_cert is not None and tls_key is not None else None
    paths = write_config(site, folder, listen=listen, tls=tls, rotate=rotate, run_as=run_as)
    for account in accounts(site):
        click.echo(f"account {account}: password in {paths.credentials / account}")
    for warning in paths.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"run: mosquitto -c {paths.conf}")
