"""The Python toolchain is locked: pyproject.toml pins every direct dependency, uv.lock agrees with it, and the
policy pack's install list (policies/requirements.txt, what the Pulumi CLI installs) is exactly the `policy`
group's locked closure, every package pinned with hashes."""

from __future__ import annotations

import re
import tomllib

import pytest

from tools.harness import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
LOCK = tomllib.loads((ROOT / "uv.lock").read_text())
PACKAGES = {package["name"]: package for package in LOCK["package"]}
ROOT_PACKAGE = PACKAGES[PYPROJECT["project"]["name"]]


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def direct_requirements() -> list[tuple[str, str]]:
    """(where, requirement) for the program's dependencies and every dependency group's entries."""
    found = [("project.dependencies", r) for r in PYPROJECT["project"]["dependencies"]]
    for group, entries in PYPROJECT["dependency-groups"].items():
        found += [(f"dependency-groups.{group}", r) for r in entries if isinstance(r, str)]
    return found


def closure(roots: list[str]) -> set[str]:
    """Every package the lock installs for these roots (markers ignored: one platform, one Python)."""
    seen: set[str] = set()
    todo = [normalized(name) for name in roots]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo += [normalized(dep["name"]) for dep in PACKAGES[name].get("dependencies", [])]
    return seen


@pytest.mark.parametrize(("where", "requirement"), direct_requirements())
def test_every_direct_dependency_is_pinned_and_locked_at_that_version(where, requirement):
    match = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[a-z0-9,]+\])?==([0-9][^;\s]*)", requirement)
    assert match, f"{where}: {requirement!r} is not pinned with == (expected NAME==VERSION)"
    name, version = normalized(match[1]), match[3]
    assert name in PACKAGES, f"{where}: {name} is not in uv.lock: run `make lock`"
    assert PACKAGES[name]["version"] == version, (
        f"{where}: pyproject pins {name}=={version} but uv.lock has {PACKAGES[name]['version']}: run `make lock`")


def test_the_lock_resolves_from_pypi_for_the_python_ci_uses():
    assert LOCK["requires-python"] == PYPROJECT["project"]["requires-python"] == "==3.11.*"
    sources = {next(iter(p["source"])) + ":" + next(iter(p["source"].values())) for p in LOCK["package"]}
    assert sources == {"registry:https://pypi.org/simple", "virtual:."}, sources


def _pack_requirements() -> dict[str, tuple[str, list[str]]]:
    """policies/requirements.txt as {name: (version, hashes)}."""
    text = (ROOT / "policies" / "requirements.txt").read_text().replace("\\\n", " ")
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)((?:\s+--hash=sha256:[0-9a-f]{64})*)", line)
        assert match, f"policies/requirements.txt: {line!r} is not NAME==VERSION --hash=sha256:..."
        pins[normalized(match[1])] = (match[2], re.findall(r"sha256:[0-9a-f]{64}", match[3]))
    return pins


def test_the_pack_install_list_is_the_policy_groups_locked_closure_with_hashes():
    pins = _pack_requirements()
    expected = closure([dep["name"] for dep in ROOT_PACKAGE["dev-dependencies"]["policy"]])
    assert set(pins) == expected, (f"policies/requirements.txt differs from the `policy` group's closure in "
                                   f"uv.lock (missing {sorted(expected - set(pins))}, extra "
                                   f"{sorted(set(pins) - expected)}): run `make lock`")
    for name, (version, hashes) in pins.items():
        locked = PACKAGES[name]
        assert version == locked["version"], f"{name}: {version} in the pack's list, {locked['version']} locked"
        lock_hashes = {a["hash"].removeprefix("sha256:") for a in [*locked.get("wheels", []),
                                                                  *filter(None, [locked.get("sdist")])]}
        assert hashes and {h.removeprefix("sha256:") for h in hashes} <= lock_hashes, f"{name}: hashes differ"


def test_the_pack_group_holds_what_its_rules_import():
    policy = {normalized(d["name"]) for d in ROOT_PACKAGE["dev-dependencies"]["policy"]}
    assert {"pulumi", "pulumi-policy"} <= policy
    # the pack's version of the SDK is the program's: one engine protocol in one virtualenv
    assert PACKAGES["pulumi"]["version"] in {r.split("==")[1] for r in PYPROJECT["project"]["dependencies"]
                                             if r.startswith("pulumi==")}


def test_pulumi_installs_the_program_with_uv_from_the_lock():
    import yaml

    runtime = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["runtime"]
    assert runtime == {"name": "python", "options": {"toolchain": "uv", "virtualenv": ".venv"}}
    assert not (ROOT / "requirements.txt").exists(), "the program's pins live in pyproject.toml and uv.lock"
