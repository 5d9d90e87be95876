"""`farmctl portal`: users, leases, sites and the audit log from the command line, run through farmctl's own entry
(its error policy included): exit 0 with a result, 2 with one line naming the field on bad input, 1 when the
database cannot be reached; a generated password is printed once; every change lands in the audit log."""

from __future__ import annotations

import ast
import csv
import io
import json
import socket
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from argon2 import PasswordHasher, profiles

import portal
from farmctl.cli import main
from portal.clicheck import AUDIT_ACTIONS
from portal.service import accounts, leases
from portal.service.model import seoul_day
from portal.service.store import Store

SITE = Path(__file__).resolve().parents[1] / "farmcore" / "twin" / "sites" / "gyeongbuk-demo.toml"


class Run:
    """`farmctl portal ...` in this process: exit code, stdout, stderr."""

    def __init__(self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, db: str) -> None:
        self.capsys, self.monkeypatch, self.db = capsys, monkeypatch, db

    def __call__(self, *args: str, stdin: str = "", db: bool = True) -> tuple[int, str, str]:
        self.monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        argv = ["portal", *args, *(["--db", self.db] if db else [])]
        code = 0
        try:
            main(argv)
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = self.capsys.readouterr()
        return code, out, err


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Run:
    monkeypatch.setenv("FARMCTL_LANG", "en")
    monkeypatch.setenv("FARMCTL_STATE_DIR", str(tmp_path / "state"))
    # argon2id at its cheapest: the real cost is checked by the store's contract suite
    monkeypatch.setattr(accounts, "HASHER", PasswordHasher.from_parameters(profiles.CHEAPEST))
    return Run(capsys, monkeypatch, f"sqlite:///{tmp_path / 'portal.db'}")


def refused(result: tuple[int, str, str], words: str) -> None:
    """Exit 2, nothing on stdout, one line on stderr naming what was wrong."""
    code, out, err = result
    assert (code, out) == (2, ""), result
    assert err.count("\n") == 1 and err.startswith("farmctl: error: ") and words in err, err


def test_user_add_prints_a_generated_password_once_and_it_signs_in(run: Run) -> None:
    code, out, _err = run("user", "add", "kim", "--role", "tenant", "--name", "김 농부")
    assert code == 0 and out.startswith("user kim added (tenant)\n")
    password = out.splitlines()[1].rsplit(": ", 1)[1]
    assert len(password) == 16
    with Store.open(run.db) as store:
        assert accounts.sign_in(store, "kim", password)[1].display_name == "김 농부"
    code, out, _err = run("user", "list", "--json")
    assert code == 0 and password not in out
    assert json.loads(out)["users"][0] | {"created_at": None} == {
        "username": "kim", "role": "tenant", "display_name": "김 농부", "language": "ko", "disabled": False,
        "locked_until": None, "sites": [], "created_at": None}


def test_a_password_given_on_stdin_is_used_and_not_printed(run: Run) -> None:
    code, out, _err = run("user", "add", "park", "--role", "officer", "--lang", "en", "--password-stdin",
                          stdin="a long enough one\n")
    assert code == 0 and "a long enough one" not in out and "password" not in out
    with Store.open(run.db) as store:
        assert accounts.sign_in(store, "park", "a long enough one")[1].language == "en"
    refused(run("user", "add", "choi", "--role", "tenant", "--password-stdin", stdin="short\n"), "password: 10 to")


@pytest.mark.parametrize(("args", "words"), [
    (("user", "add", "kim", "--role", "farmer"), "role: 'farmer': one of tenant, officer, technician, admin"),
    (("user", "add", "Kim Lee", "--role", "tenant"), "username: 'Kim Lee': 2-32 of a-z 0-9"),
    (("user", "add", "kim", "--role", "tenant", "--lang", "jp"), "language: 'jp': ko or en"),
    (("user", "passwd", "ghost"), "username: no user 'ghost'"),
    (("lease", "add", "--tenant", "kim", "--site", "s", "--zone", "z", "--start", "1/3/2026", "--end",
      "2027-03-01"), "start: '1/3/2026': a date YYYY-MM-DD (Asia/Seoul)"),
    (("lease", "end", "7"), "lease: no lease #7"),
    (("audit", "--since", "yesterday"), "--since: 'yesterday': YYYY-MM-DD or YYYY-MM-DDTHH:MM"),
    (("audit", "--limit", "0"), "limit: 0: 1 to 10000"),
    (("user", "add", "kim"), "Missing option '--role'"),
])
def test_bad_input_is_one_line_naming_the_field_and_exit_2(run: Run, args: tuple[str, ...], words: str) -> None:
    refused(run(*args), words)


def test_a_bad_database_url_or_an_unreachable_server(run: Run) -> None:
    refused(run("user", "list", "--db", "mysql://x/y", db=False), "db: 'mysql://x/y': allowed are sqlite:///PATH")
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, out, err = run("user", "list", "--db", f"postgresql://farm@127.0.0.1:{port}/portal", db=False)
    assert (code, out) == (1, "") and err.count("\n") == 1
    assert err.startswith(f"farmctl: error: the portal database cannot be reached: postgresql+psycopg://farm@"
                          f"127.0.0.1:{port}/portal: connection failed")


def test_without_db_the_store_is_portal_db_in_the_state_folder(run: Run, tmp_path: Path) -> None:
    code, _out, _err = run("user", "add", "kim", "--role", "tenant", db=False)
    assert code == 0 and (tmp_path / "state" / "portal.db").exists()


def test_sites_and_leases_from_the_command_line(run: Run) -> None:
    assert run("user", "add", "kim", "--role", "tenant")[0] == 0
    code, out, _err = run("site", "add", str(SITE))
    assert code == 0 and out == ("site gyeongbuk-demo registered, zones: gh1 (greenhouse), gh2 (greenhouse), "
                                 "gh3 (greenhouse), tank1 (tank), tank2 (tank), tank3 (tank)\n")
    listed = json.loads(run("site", "list", "--json")[1])["sites"]
    assert [(s["id"], s["max_override_s"], len(s["zones"])) for s in listed] == [("gyeongbuk-demo", 14400.0, 6)]
    code, out, _err = run("lease", "add", "--tenant", "kim", "--site", "gyeongbuk-demo", "--zone", "gh1",
                          "--start", "2026-03-01", "--end", "2099-03-01", "--note", "딸기")
    assert code == 0 and out == "lease added: #1 kim gyeongbuk-demo/gh1 2026-03-01..2099-03-01\n"
    refused(run("lease", "add", "--tenant", "kim", "--site", "gyeongbuk-demo", "--zone", "gh1", "--start",
                "2099-02-28", "--end", "2099-04-01"), "start: 2099-02-28..2099-04-01 overlaps lease #1")
    refused(run("lease", "add", "--tenant", "kim", "--site", "gyeongbuk-demo", "--zone", "gh9", "--start",
                "2026-03-01", "--end", "2027-03-01"), "zone: gyeongbuk-demo/gh9: not a registered zone")
    assert [lease["id"] for lease in json.loads(run("lease", "list", "--active", "--json")[1])["leases"]] == [1]
    code, out, _err = run("lease", "end", "1")  # today, Asia/Seoul: access ends at once
    today = seoul_day(datetime.now(UTC))
    assert code == 0 and out.startswith(f"lease ended: #1 kim gyeongbuk-demo/gh1 2026-03-01..2099-03-01 (ended {today}")
    assert json.loads(run("lease", "list", "--active", "--json")[1])["leases"] == []
    with Store.open(run.db) as store:
        assert leases.leases(store)[0].until == today and leases.leases(store)[0].note == "딸기"


def test_a_bad_site_file_is_one_line_naming_the_file_and_the_field(run: Run, tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text(SITE.read_text("utf-8").replace("latitude = 36.35", "latitude = 360"), "utf-8")
    refused(run("site", "add", str(broken)), f"error: not a usable site file: {broken}: site.latitude")
    assert run("site", "add", str(broken))[2].count(str(broken)) == 1  # the path once, not twice
    refused(run("site", "add", str(tmp_path / "none.toml")), "none.toml: cannot read")


def test_account_admin_commands(run: Run) -> None:
    run("site", "add", str(SITE))
    run("user", "add", "park", "--role", "officer")
    run("user", "add", "kim", "--role", "tenant", "--password-stdin", stdin="kim's password\n")
    with Store.open(run.db) as store:
        token, _who = accounts.sign_in(store, "kim", "kim's password")
    assert run("user", "assign", "park", "gyeongbuk-demo") == (0, "park: gyeongbuk-demo assigned\n", "")
    refused(run("user", "assign", "kim", "gyeongbuk-demo"), "sites are assigned to officers and technicians only")
    assert run("user", "disable", "kim")[0] == 0
    with Store.open(run.db) as store:
        assert accounts.resolve(store, token) is None
    assert "kim       tenant" in run("user", "list")[1] and "disabled" in run("user", "list")[1]
    assert run("user", "enable", "kim")[0] == 0
    code, out, _err = run("user", "passwd", "kim")
    assert code == 0
    new = out.splitlines()[1].rsplit(": ", 1)[1]
    with Store.open(run.db) as store:
        assert accounts.sign_in(store, "kim", new)[1].username == "kim"
        assert accounts.account(store, "park").sites == ("gyeongbuk-demo",)
    assert run("user", "assign", "park", "gyeongbuk-demo", "--remove")[0] == 0


def test_every_change_is_audited_and_the_log_exports_as_csv(run: Run, tmp_path: Path) -> None:
    import getpass

    run("user", "add", "kim", "--role", "tenant")
    run("site", "add", str(SITE))
    run("lease", "add", "--tenant", "kim", "--site", "gyeongbuk-demo", "--zone", "gh2", "--start", "2026-03-01",
        "--end", "2027-03-01")
    rows = json.loads(run("audit", "--json")[1])["audit"]
    assert [r["action"] for r in rows] == ["lease_add", "site_add", "user_add"]
    assert {r["username"] for r in rows} == {f"cli:{getpass.getuser()}"}
    assert (rows[0]["site"], rows[0]["zone"], rows[0]["detail"]["tenant"]) == ("gyeongbuk-demo", "gh2", "kim")
    assert [r["action"] for r in json.loads(run("audit", "--action", "site_add", "--json")[1])["audit"]] == \
        ["site_add"]
    tomorrow = date.fromordinal(seoul_day(datetime.now(UTC)).toordinal() + 1).isoformat()
    assert json.loads(run("audit", "--since", tomorrow, "--json")[1])["audit"] == []
    target = tmp_path / "audit.csv"
    assert run("audit", "--csv", str(target)) == (0, f"3 rows written to {target}\n", "")
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert [r[4] for r in csv.reader(io.StringIO(data.decode("utf-8-sig")))] == ["action", "lease_add", "site_add",
                                                                                  "user_add"]


def test_korean_words_under_a_korean_locale(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FARMCTL_LANG", "ko")
    code, out, _err = run("user", "add", "kim", "--role", "tenant")
    assert code == 0 and out.startswith("사용자 kim 추가 (tenant)\nkim의 비밀번호 (지금 한 번만 보여 줍니다): ")
    code, out, err = run("user", "add", "lee", "--role", "farmer")
    assert (code, out) == (2, "")
    assert err == "farmctl: 오류: role: 'farmer': 다음 중 하나여야 합니다: tenant, officer, technician, admin\n"


def test_a_lease_names_what_is_wrong_with_its_tenant_or_site_in_plain_words(run: Run,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    run("site", "add", str(SITE))
    run("user", "add", "park", "--role", "officer")
    run("user", "add", "admin", "--role", "admin")
    run("user", "add", "kim", "--role", "tenant")

    def lease(tenant: str, site: str = "gyeongbuk-demo") -> tuple[int, str, str]:
        return run("lease", "add", "--tenant", tenant, "--site", site, "--zone", "gh1", "--start", "2026-03-01",
                   "--end", "2027-03-01")

    refused(lease("park"), "tenant: 'park' is an officer: a tenant account is needed")
    refused(lease("admin"), "tenant: 'admin' is an admin: a tenant account is needed")
    refused(lease("nobody"), "tenant: no user 'nobody': a tenant account is needed")
    refused(lease("kim", "nowhere"), "site: 'nowhere' is not registered (registered: gyeongbuk-demo); register it "
                                     "first with farmctl portal site add FILE")
    monkeypatch.setenv("FARMCTL_LANG", "ko")
    assert lease("park")[2] == ("farmctl: 오류: tenant: 'park' 계정은 지도사(officer) 계정입니다. "
                                "임차인(tenant) 계정이어야 합니다\n")
    assert "'nowhere' 사이트는 등록되어 있지 않습니다 (등록된 사이트: gyeongbuk-demo)" in lease("kim", "nowhere")[2]


def test_an_unknown_audit_action_is_refused_with_the_known_ones(run: Run) -> None:
    refused(run("audit", "--action", "nonsense"), "--action: 'nonsense': not an audit action; one of sign_in, ")
    assert "command_setpoint" in run("audit", "--action", "nonsense")[2]
    assert run("audit", "--action", "command_setpoint", "--json") == (0, '{"audit": []}\n', "")


def _recorded_actions() -> set[str]:
    """Every action name the portal's sources pass to the audit log: `audit.record(store, who, ACTION, ...)`,
    the command line's `record(store, ACTION, ...)` and the admin desk's `_log(who, ACTION, ...)`; an f-string
    as its constant head and `*` (`command_*`)."""
    found = set()
    for path in Path(portal.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            at = {"record": 2 if isinstance(func, ast.Attribute) else 1, "_log": 1}.get(name)
            if at is None or len(node.args) <= at:
                continue
            arg = node.args[at]
            for part in (arg.body, arg.orelse) if isinstance(arg, ast.IfExp) else (arg,):
                if isinstance(part, ast.Constant) and isinstance(part.value, str):
                    found.add(part.value)
                elif isinstance(part, ast.JoinedStr) and isinstance(part.values[0], ast.Constant):
                    found.add(f"{part.values[0].value}*")
    return found


def test_the_audit_actions_are_every_action_the_portal_records() -> None:
    recorded = _recorded_actions()
    assert len(recorded) > 15
    for action in recorded:
        if action.endswith("*"):
            assert any(a.startswith(action[:-1]) for a in AUDIT_ACTIONS), action
        else:
            assert action in AUDIT_ACTIONS, action
