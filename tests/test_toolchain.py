"""The everyday commands: `make help` lists every target, `make test` checks the system tools first (one line
naming what is missing), and .ci/run shares that check instead of keeping its own list."""

from __future__ import annotations

import re
import shutil
import subprocess

from tools.harness import ROOT

MAKEFILE = (ROOT / "Makefile").read_text()


def _make(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), *args], capture_output=True, text=True,
                          check=False, **kwargs)


def test_make_help_lists_every_phony_target_with_one_line_each():
    phony = MAKEFILE.split(".PHONY:", 1)[1].splitlines()[0].split()
    declared = re.findall(r"^([a-z][a-z-]*):", MAKEFILE, flags=re.MULTILINE)
    assert sorted(phony) == sorted(set(declared)), "every target is .PHONY and every .PHONY target exists"
    done = _make("help")
    assert done.returncode == 0, done.stderr
    listed = [line.split()[1] for line in done.stdout.splitlines()]
    assert sorted(listed) == sorted(phony)
    assert all(len(line.split(None, 2)) == 3 for line in done.stdout.splitlines()), "a target without a description"
    assert _make().stdout == done.stdout, "plain `make` prints the help"


def test_make_test_checks_the_system_tools_before_anything_else():
    recipe = re.search(r"^test: (.*?) ##", MAKEFILE, flags=re.MULTILINE)
    assert recipe and recipe[1].split()[0] == "system-deps"
    dry = _make("-n", "test").stdout.splitlines()
    assert dry[0] == "bash tools/system-deps.sh"


def test_a_machine_without_the_tools_gets_one_line_naming_them_and_how_to_install():
    bash = shutil.which("bash")
    # an empty PATH: nothing found by name; --check never installs, even as root
    done = subprocess.run([bash, str(ROOT / "tools" / "system-deps.sh"), "--check"], capture_output=True, text=True,
                          check=False, env={"PATH": "/nonexistent", "PYTHON": "/nonexistent/python3"})
    assert done.returncode == 1
    assert done.stdout == "" and len(done.stderr.splitlines()) == 1
    line = done.stderr
    for package in ("prometheus", "libtap-parser-sourcehandler-pgtap-perl", "nodejs", "graphviz"):
        assert package in line
    assert "sudo apt-get install -y " in line


def test_this_machine_has_every_tool_the_tests_need():
    done = subprocess.run(["bash", str(ROOT / "tools" / "system-deps.sh"), "--check"], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_ci_runs_the_shared_check_then_the_readmes_test_command():
    run = (ROOT / ".ci" / "run").read_text()
    commands = [line for line in run.splitlines() if line and not line.startswith(("#", "set ", "cd "))]
    assert commands == ["bash tools/system-deps.sh", "make test"]
    listed = subprocess.run(["bash", str(ROOT / "tools" / "system-deps.sh"), "--list"], capture_output=True,
                            text=True, check=True).stdout.split()
    assert {"postgresql-15", "postgresql-15-pgtap", "postgresql-15-plpgsql-check", "prometheus",
            "prometheus-alertmanager", "graphviz", "nodejs", "npm"} <= set(listed)
