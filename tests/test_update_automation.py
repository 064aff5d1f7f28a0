"""Updates are automated for every ecosystem the repository uses: Dependabot (.github/dependabot.yml) for the
GitHub Actions, uv, pip and npm; Renovate's regex managers (.github/renovate.json) for the Helm chart versions
and container image digests that live in Python. The regexes are run here over the real files, so a pattern
that stops matching (a renamed constant, a moved default) fails instead of silently updating nothing."""

from __future__ import annotations

import json
import re
import subprocess

import yaml

from tools.harness import ROOT

DEPENDABOT = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
RENOVATE = json.loads((ROOT / ".github" / "renovate.json").read_text())
PYTHON_SOURCES = sorted((ROOT / "components").rglob("*.py"))


def _updates(ecosystem: str) -> list[dict]:
    return [u for u in DEPENDABOT["updates"] if u["package-ecosystem"] == ecosystem]


def _directories(update: dict) -> list[str]:
    return update.get("directories") or [update["directory"]]


def test_dependabot_covers_actions_uv_npm_and_every_pip_requirements_file():
    assert DEPENDABOT["version"] == 2
    assert _directories(_updates("github-actions")[0]) == ["/"] and (ROOT / ".github" / "workflows").is_dir()
    assert _directories(_updates("uv")[0]) == ["/"] and (ROOT / "uv.lock").is_file()
    assert _directories(_updates("npm")[0]) == ["/"] and (ROOT / "package-lock.json").is_file()
    pip_dirs = set(_directories(_updates("pip")[0]))
    for requirements in ROOT.glob("**/requirements.txt"):
        relative = "/" + requirements.parent.relative_to(ROOT).as_posix()
        if relative.startswith(("/.venv", "/node_modules", "/build")):
            continue
        if relative == "/policies":  # exported from uv.lock by `make lock`, never edited by hand
            assert relative not in pip_dirs
            continue
        assert relative in pip_dirs, f"{relative}/requirements.txt has no Dependabot pip entry"
    for update in DEPENDABOT["updates"]:
        assert update["schedule"]["interval"] == "weekly" and update["cooldown"]["default-days"] >= 3


def _zizmor(path) -> list[dict]:
    done = subprocess.run([str(ROOT / ".venv" / "bin" / "zizmor"), "--offline", "--no-progress", "--format", "json",
                           str(path)], capture_output=True, text=True, timeout=300, cwd=ROOT, check=False)
    assert done.returncode in (0, 10, 11, 12, 13, 14), done.stderr
    return json.loads(done.stdout)


def test_zizmor_finds_nothing_in_the_dependabot_config():
    assert _zizmor(ROOT / ".github" / "dependabot.yml") == []


def test_zizmor_reads_dependabot_configs_a_planted_unsafe_one_is_flagged(tmp_path):
    planted = tmp_path / ".github" / "dependabot.yml"
    planted.parent.mkdir()
    planted.write_text("version: 2\nupdates:\n  - package-ecosystem: pip\n    directory: /\n"
                       "    insecure-external-code-execution: allow\n    schedule: {interval: weekly}\n")
    assert {f["ident"] for f in _zizmor(planted)} >= {"dependabot-execution", "dependabot-cooldown"}


def _python_regex(pattern: str) -> re.Pattern:
    """Renovate's ECMAScript named groups `(?<name>...)` as Python's `(?P<name>...)`."""
    return re.compile(re.sub(r"\(\?<(?=[A-Za-z])", "(?P<", pattern))


def _matches(manager: dict) -> list[dict[str, str]]:
    files = [p for p in PYTHON_SOURCES
             if any(re.search(pattern.strip("/"), p.relative_to(ROOT).as_posix())
                    for pattern in manager["managerFilePatterns"])]
    found = []
    for pattern in manager["matchStrings"]:
        regex = _python_regex(pattern)
        for path in files:
            found += [m.groupdict() for m in regex.finditer(path.read_text())]
    return found


def _manager(dep_name_or_datasource: str) -> dict:
    return next(m for m in RENOVATE["customManagers"]
                if m.get("depNameTemplate") == dep_name_or_datasource
                or (m["datasourceTemplate"] == dep_name_or_datasource and "depNameTemplate" not in m))


def test_renovate_only_runs_the_regex_managers_so_the_two_bots_never_race():
    assert RENOVATE["enabledManagers"] == ["custom.regex"]


def test_renovate_finds_the_helm_chart_versions_the_program_installs():
    from components.core.settings import AlertingSettings
    from components.secrets.external_secrets import ESO_CHART_VERSION

    prometheus = _matches(_manager("kube-prometheus-stack"))
    assert prometheus == [{"currentValue": AlertingSettings.model_fields["prometheus_stack_version"].default}]
    assert _matches(_manager("external-secrets")) == [{"currentValue": ESO_CHART_VERSION}]


def test_every_image_constant_is_pinned_by_digest_and_renovate_sees_each():
    from components.backups import dump_job

    constants = {}
    for path in PYTHON_SOURCES:
        constants.update(dict(re.findall(r'^([A-Z_]+_IMAGE) = "([^"]+)"', path.read_text(), flags=re.MULTILINE)))
    assert constants == {"PG_DUMP_IMAGE": dump_job.PG_DUMP_IMAGE, "AWS_CLI_IMAGE": dump_job.AWS_CLI_IMAGE}
    for name, image in constants.items():
        assert re.fullmatch(r"[a-z0-9./-]+:[A-Za-z0-9._-]+@sha256:[0-9a-f]{64}", image), f"{name} is not tag@digest"
    seen = {f"{m['depName']}:{m['currentValue']}@{m['currentDigest']}" for m in _matches(_manager("docker"))}
    assert seen == set(constants.values())
    assert dump_job.AWS_CLI_IMAGE.startswith("public.ecr.aws/aws-cli/aws-cli:")  # ECR Public, not Docker Hub
