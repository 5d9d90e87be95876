"""The house rules of DESIGN.md as a test: the import contracts in pyproject.toml, and no command module importing
the group that mounts it.

A contract fails with the chain of imports that breaks it (`lint-imports` prints the same by hand).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("farmcore", "farmctl", "aquactl")
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def _lint(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    return subprocess.run([sys.executable, "-c", code, "--no-cache", "--no-logo", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("contract", [c["id"] for c in CONTRACTS])
def test_house_import_rule(contract: str) -> None:
    result = _lint(ROOT, "--contract", contract)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_broken_rule_fails_the_check(tmp_path: Path) -> None:
    """The contracts bite: the packages copied, one forbidden import added to the control room."""
    for name in PACKAGES:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    pid = tmp_path / "farmcore" / "control" / "pid.py"
    pid.write_text(pid.read_text() + "\nimport farmcore.link.client  # noqa\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}  # the copy, not the checkout, is what grimp reads
    result = _lint(tmp_path, "--contract", "control-is-pure", env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "farmcore.control.pid -> farmcore.link.client" in result.stdout
    assert _lint(ROOT, "--contract", "control-is-pure").returncode == 0


def test_no_command_module_imports_the_group_that_mounts_it() -> None:
    """The tools' groups load their commands by name when asked for (farmcore/cligroup.py); a command module that
    imported its group back (farmctl/demo.py -> farmctl/cli.py, historian/cli.py -> the group's module) was a
    cycle. Only the tools' entry modules import the group, and nothing imports them."""
    import aquactl.cli
    import farmctl.cli

    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    entries = {"farmctl.cli", "aquactl.cli"}
    group_modules = {type(farmctl.cli.cli).__module__, type(aquactl.cli.cli).__module__}
    for module in sorted(group_modules):
        assert graph.find_modules_that_directly_import(module) <= entries, module
    for module in sorted(entries):
        assert graph.find_modules_that_directly_import(module) == set(), module
