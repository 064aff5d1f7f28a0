"""The repository hygiene check: passes on this repository, fails on each planted problem in a copy of it.

The copy (the committed files only, in a temporary directory that is not a git checkout)
is checked once before planting, and each test asserts the problems its plant adds, so a
problem elsewhere in the repository shows up in the real-repository test, not in every test.
"""

from __future__ import annotations

import functools
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools.repo_check import (
    MUST_BE_IGNORED,
    Problem,
    check_repository,
    committed_files,
    gitignore_rules,
    is_ignored,
)

ROOT = Path(__file__).resolve().parent.parent


def aws_key() -> str:
    return "AK" + "IA" + secrets.token_hex(8).upper()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of the committed files (not a git checkout, so every file counts as committed)."""
    copy = tmp_path / "repo"
    for relative in committed_files(ROOT):
        target = copy / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, target)
    return copy


@functools.cache
def baseline() -> tuple[Problem, ...]:
    """The untouched repository's problems (none, when test_the_repository_is_clean passes)."""
    return tuple(check_repository(ROOT))


def planted(repo: Path) -> list[Problem]:
    """The problems the check finds in the copy beyond those of the untouched repository."""
    return [p for p in check_repository(repo) if p not in baseline()]


def append_config(repo: Path, stack: str, lines: str) -> int:
    """Append config entries to a stack file; returns the line number of the first appended line."""
    path = repo / f"Pulumi.{stack}.yaml"
    text = path.read_text()
    assert "\nconfig:\n" in text or text.startswith("config:\n")
    path.write_text(text.rstrip("\n") + "\n" + lines)
    return len(text.rstrip("\n").splitlines()) + 1


# --- the real repository ----------------------------------------------------------------------------------


def test_the_repository_is_clean():
    problems = check_repository(ROOT)
    assert problems == [], "\n".join(map(str, problems))


def test_the_command_exits_zero_on_the_repository():
    result = subprocess.run([sys.executable, "-m", "tools.repo_check", "--root", str(ROOT)], cwd=ROOT,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout
    assert "repo_check: clean" in result.stderr


def test_committed_files_are_what_git_would_commit():
    files = set(committed_files(ROOT))
    tracked = set(subprocess.run(["git", "-C", str(ROOT), "ls-files"], capture_output=True, text=True,
                                 check=True).stdout.splitlines())
    assert {f for f in tracked if (ROOT / f).is_file()} <= files
    assert "Pulumi.yaml" in files and ".gitignore" in files
    assert not any(f.startswith((".venv/", "node_modules/")) for f in files)


def test_the_gitignore_matcher_agrees_with_git_on_env_files():
    rules = gitignore_rules((ROOT / ".gitignore").read_text())
    for candidate in [*MUST_BE_IGNORED, ".env.example"]:
        git = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "--no-index", "-q", candidate],
                             capture_output=True, check=False).returncode == 0
        assert is_ignored(rules, candidate) == git, candidate


# --- stack files and Pulumi.yaml --------------------------------------------------------------------------


def test_a_plaintext_secret_in_a_stack_file_fails_and_is_not_printed(repo):
    value = "fake-" + secrets.token_hex(12)
    line = append_config(repo, "staging", f"  kingtavo:supabaseAccessToken: {value}\n")
    assert planted(repo) == [Problem(
        "Pulumi.staging.yaml", line, "kingtavo:supabaseAccessToken is declared `secret: true` in Pulumi.yaml but set "
        "in plaintext here; remove it and run `pulumi config set --secret supabaseAccessToken` (value not shown)")]
    result = subprocess.run([sys.executable, "-m", "tools.repo_check", "--root", str(repo)], cwd=ROOT,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert f"Pulumi.staging.yaml:{line}:" in result.stdout and value not in result.stdout + result.stderr


def test_a_secure_ciphertext_is_fine(repo):
    append_config(repo, "production", "  kingtavo:supabaseAccessToken:\n    secure: v1:" + "A" * 12 + ":"
                  + secrets.token_urlsafe(24) + "\n")
    assert planted(repo) == []


def test_an_object_secret_needs_every_leaf_encrypted(repo):
    line = append_config(repo, "staging", "  kingtavo:etlApiKeys:\n"
                                          "    STRIPE_API_KEY:\n      secure: v1:abc:def\n"
                                          "    OPENAI_API_KEY: fake-plaintext\n")
    assert [(p.line, p.message.split(" ")[0]) for p in planted(repo)] == [
        (line + 3, "kingtavo:etlApiKeys.OPENAI_API_KEY")]


def test_a_provider_credential_in_plaintext_fails(repo):
    line = append_config(repo, "staging", "  aws:secretKey: fake-" + secrets.token_hex(8) + "\n")
    assert planted(repo) == [Problem("Pulumi.staging.yaml", line, "aws:secretKey looks secret but is set in "
                                     "plaintext; use `pulumi config set --secret aws:secretKey`")]


def test_a_secret_looking_field_inside_a_plane_fails(repo):
    path = repo / "Pulumi.staging.yaml"
    text = path.read_text()
    marker = "  kingtavo:supabase:\n"
    assert marker in text
    path.write_text(text.replace(marker, marker + "    serviceRoleKey: fake-plaintext\n"))
    line = text[:text.index(marker)].count("\n") + 2
    assert planted(repo) == [Problem("Pulumi.staging.yaml", line, "kingtavo:supabase.serviceRoleKey looks secret "
                                     "but is set in plaintext; make it its own `secret: true` key in Pulumi.yaml")]


def test_a_secret_with_a_default_in_pulumi_yaml_fails(repo):
    path = repo / "Pulumi.yaml"
    text = path.read_text()
    path.write_text(text.rstrip("\n") + "\n  extraToken:\n    type: string\n    secret: true\n"
                                        "    default: fake-default\n")
    line = len(text.rstrip("\n").splitlines()) + 4
    assert planted(repo) == [Problem("Pulumi.yaml", line, "extraToken is `secret: true` but has a default; secrets "
                                                          "have no defaults")]


# --- secret-shaped values in any committed file -----------------------------------------------------------


def test_a_secret_shaped_value_in_any_file_fails_with_its_line_and_no_value(repo):
    key = aws_key()
    (repo / "docs" / "notes.md").parent.mkdir(exist_ok=True)
    (repo / "docs" / "notes.md").write_text(f"# Notes\n\nThe old key was {key}.\n")
    assert planted(repo) == [Problem("docs/notes.md", 3, "secret-shaped value (AWS access key id); remove it, revoke "
                                     "it, and assemble test fixtures at run time")]
    result = subprocess.run([sys.executable, "-m", "tools.repo_check", "--root", str(repo)], cwd=ROOT,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 1 and key not in result.stdout


def test_a_private_key_block_in_code_fails(repo):
    block = "-----BEGIN " + "OPENSSH PRIVATE" + " KEY-----"
    (repo / "tools" / "deploy_key.py").write_text(f'KEY = """\n{block}\nAAAA\n"""\n')
    assert [(p.path, p.line) for p in planted(repo)] == [("tools/deploy_key.py", 2)]


# --- .gitignore, .env.example and forbidden files ---------------------------------------------------------


def test_a_gitignore_without_env_rules_fails(repo):
    gitignore = repo / ".gitignore"
    kept = [line for line in gitignore.read_text().splitlines() if ".env" not in line and ".local" not in line]
    gitignore.write_text("\n".join(kept) + "\n")
    assert {p.message.split(";")[0] for p in planted(repo)} == {f"does not ignore {c}" for c in MUST_BE_IGNORED}


def test_a_gitignore_that_ignores_the_template_fails(repo):
    gitignore = repo / ".gitignore"
    gitignore.write_text(gitignore.read_text().replace("!.env.example\n", ""))
    assert planted(repo) == [Problem(".gitignore", 0, "ignores .env.example, the committed template; add "
                                                      "`!.env.example` after the .env rules")]


def test_env_example_must_hold_placeholders_for_secrets(repo):
    example = repo / ".env.example"
    lines = example.read_text().splitlines()
    example.write_text("\n".join([*lines, "STRIPE_SECRET_KEY=fake-but-not-a-placeholder", "NODE_ENV=development",
                                  f"AWS_ACCESS_KEY_ID={aws_key()}"]) + "\n")
    assert planted(repo) == [
        Problem(".env.example", len(lines) + 1, "STRIPE_SECRET_KEY looks secret but its value is not a placeholder; "
                                                "write STRIPE_SECRET_KEY=<your-stripe-secret-key>"),
        Problem(".env.example", len(lines) + 3, "secret-shaped value (AWS access key id); remove it, revoke it, and "
                                                "assemble test fixtures at run time")]


def test_a_missing_env_example_fails(repo):
    (repo / ".env.example").unlink()
    assert planted(repo) == [Problem(".env.example", 0, "missing: commit a template listing every variable with "
                                                        "placeholder values")]


@pytest.mark.parametrize(("relative", "reason"), [
    (".env.local", "a local env file (secrets live in .env.local, never committed)"),
    ("web/.env.production", "a local env file (secrets live in .env.local, never committed)"),
    ("id_ed25519", "a private key file"),
    ("certs/server.key", "a private key file"),
    ("kubeconfig-staging", "a kubeconfig"),
    ("ops/cluster.kubeconfig", "a kubeconfig"),
])
def test_forbidden_files_fail(repo, relative, reason):
    target = repo / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("PLACEHOLDER=<none>\n")
    assert planted(repo) == [Problem(relative, 0, f"{reason} must not be committed; delete it from the repository")]


def test_a_kubeconfig_is_recognised_by_its_content(repo):
    (repo / "ops").mkdir(exist_ok=True)
    (repo / "ops" / "admin.yaml").write_text("apiVersion: v1\nkind: Config\nclusters:\n- name: c\ncontexts: []\n"
                                             "users:\n- name: admin\n")
    assert planted(repo) == [Problem("ops/admin.yaml", 0, "a kubeconfig (kind: Config with clusters and users) must "
                                                          "not be committed; delete it from the repository")]
