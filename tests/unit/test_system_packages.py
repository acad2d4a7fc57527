"""The system packages the tests need are exactly those the set-up installs (``system-packages.txt``)."""

from __future__ import annotations

import ast
import os
import subprocess
from pathlib import Path

import pytest

from tests import _system

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "install-system-packages.sh"


def _marked_names() -> set[str]:
    names = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "system"
                and isinstance(node.func.value, ast.Attribute)
                and node.func.value.attr == "mark"
            ):
                names.add(ast.literal_eval(node.args[0]))
    return names


def test_every_package_a_test_needs_is_installed_by_the_set_up_and_probed():
    declared = _system.declared()
    assert _marked_names() <= set(declared), "a test needs a system package missing from system-packages.txt"
    assert set(declared) == set(_system.PROBES)
    assert all(declared.values())


def test_ci_installs_strictly_and_make_test_installs_first():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "install-system-packages.sh --strict" in ci
    make = (ROOT / "Makefile").read_text()
    assert "test: dev system-packages" in make


def _run_script(tmp_path: Path, installed: set[str], *args: str) -> subprocess.CompletedProcess:
    """The install script with dpkg-query / apt-get / id replaced by fakes on PATH: nothing is really installed."""
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    (bin_ / "dpkg-query").write_text(
        "#!/bin/sh\nfor p in " + " ".join(sorted(installed)) + '; do [ "$p" = "$3" ] && '
        'printf "install ok installed" && exit 0; done\nexit 1\n'
    )
    (bin_ / "id").write_text("#!/bin/sh\necho 1000\n")  # not root: the script must not try apt-get
    for f in bin_.iterdir():
        f.chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_}:/usr/bin:/bin")
    return subprocess.run(["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60)


def test_install_script_names_the_command_and_fails_only_when_strict(tmp_path):
    everything = {p for pkgs in _system.declared().values() for p in pkgs}
    ok = _run_script(tmp_path, everything, "--strict")
    assert ok.returncode == 0 and ok.stderr == ""
    (tmp_path / "bin").rename(tmp_path / "old")
    missing = _run_script(tmp_path, everything - {"espeak-ng"})
    assert missing.returncode == 0 and "apt-get install -y espeak-ng" in missing.stderr
    (tmp_path / "bin").rename(tmp_path / "old2")
    assert _run_script(tmp_path, everything - {"espeak-ng"}, "--strict").returncode == 1


@pytest.mark.skipif(os.environ.get("CI", "").lower() != "true", reason="CI only: the set-up has installed everything")
def test_in_ci_every_system_package_is_usable():
    assert {name: _system.available(name) for name in _system.declared()} == dict.fromkeys(_system.declared(), True)
