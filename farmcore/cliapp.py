"""The house error policy of the `farmctl` and `aquactl` command lines: one line on stderr, exit 1 or 2.

DESIGN.md: every error is one line on stderr, `farmctl: error: ...`, usage errors included; exit 2 for bad usage
or input, 1 for a device or protocol error, never a traceback (unless --debug). Command modules may use it
(`error_line`, `run_cli` for a `python -m` entry): it knows no command, so no command module imports the group
that mounts it (that is `farmcore/cligroup.py`).
"""

from __future__ import annotations

import sys

import click

from farmcore import i18n
from farmcore.errors import FarmError


def error_line(message: str) -> str:
    """`farmctl: error: MESSAGE` (the running tool's name; `farmctl` outside a command), on one line."""
    ctx = click.get_current_context(silent=True)
    tool = ctx.find_root().info_name if ctx is not None else None
    return f"{tool or 'farmctl'}: {i18n.t('error')}: {' '.join(message.split())}"


def _usage_line(exc: click.ClickException) -> str:
    """A click usage error as one line, pointing at the command's --help (click prints four lines)."""
    message = exc.format_message()
    ctx = getattr(exc, "ctx", None)
    if isinstance(exc, click.UsageError) and ctx is not None:
        message = f"{message} (see '{ctx.command_path} --help')"
    return message


def run_cli(group: click.Group, argv: list[str] | None = None) -> None:
    """Run a click group with the house error policy: one line on stderr, exit 1 or 2, no traceback."""
    debug = "--debug" in (argv if argv is not None else sys.argv)

    def fail(message: str, code: int, what: str = "error") -> None:
        click.echo(f"{group.name}: {i18n.t(what)}: {' '.join(message.split())}", err=True)
        sys.exit(code)

    try:
        group.main(args=argv, prog_name=group.name, standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:  # a bare group asks for its help page
        click.echo(exc.ctx.get_help() if exc.ctx is not None else exc.format_message(), err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo(i18n.t("aborted"), err=True)
        sys.exit(130)
    except click.ClickException as exc:
        fail(_usage_line(exc), exc.exit_code)
    except FarmError as exc:
        fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        click.echo(i18n.t("aborted"), err=True)
        sys.exit(130)
    except Exception as exc:  # an unexpected fault still gets one line, unless --debug asks for more
        if debug:
            raise
        fail(f"{type(exc).__name__}: {exc} (--debug for details)", 1, "internal error")
