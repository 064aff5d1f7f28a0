"""Repository secret hygiene: what CrossGuard cannot see (files, and which config values are secrets).

    python -m tools.repo_check [--root DIR]

Exit 0 when clean, 1 with one `path:line: problem` per problem (secret values are never printed,
only their kind). Checks:

- stack files: a key `Pulumi.yaml` declares `secret: true` is set only as `secure:` ciphertext (for
  object-typed secrets, every leaf), and any other config key whose name looks secret
  (`aws:secretKey`, `vercel:apiToken`) holds no plaintext; `Pulumi.yaml` gives no secret a default;
- every committed file: no secret-shaped value (`policies/catalogue.py`, the catalogue the pack and settings use);
- `.gitignore` ignores local `.env*` files but not `.env.example`; `.env.example` exists and holds
  placeholders only for secret-looking variables;
- no local env file, private key or kubeconfig is committed.

"Committed" means `git ls-files` (tracked, plus untracked files git would not ignore, so a file is
caught before its first commit). Outside a git checkout every file under the root counts, except
tool caches and virtual environments.
"""

from __future__ import annotations

import argparse
import fnmatch
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml

from policies.catalogue import find_secret_values, is_placeholder, is_public_by_design, is_secret_name


def looks_secret_name(name: str) -> bool:
    """A name that announces a secret and is not a key published to browsers by design (the catalogue decides)."""
    return is_secret_name(name) and not is_public_by_design(name)

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "kingtavo"
WALK_SKIP_DIRS = frozenset({".git", ".venv", "venv", "node_modules", "__pycache__", ".pytest_cache", ".ruff_cache",
                            ".mypy_cache", ".pulumi"})
MAX_SCAN_BYTES = 5 * 1024 * 1024
ENV_EXAMPLE = ".env.example"
# Local env files that .gitignore must ignore (Next.js and Vercel CLI names), and the template it must not.
MUST_BE_IGNORED = (".env", ".env.local", ".env.development.local", ".env.production.local", ".env.production",
                   "web/.env.local")
PRIVATE_KEY_NAMES = frozenset({"id_rsa", "id_dsa", "id_ecdsa", "id_ed25519"})
PRIVATE_KEY_SUFFIXES = (".key", ".p12", ".pfx", ".jks", ".keystore")
KUBECONFIG_MARKERS = (re.compile(r"^kind:\s*Config\s*$", re.MULTILINE), re.compile(r"^clusters:", re.MULTILINE),
                      re.compile(r"^users:", re.MULTILINE))


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


# --- which files ------------------------------------------------------------------------------------------


def committed_files(root: Path) -> list[str]:
    """Repository-relative POSIX paths of the files that are (or would be) committed."""
    try:
        listed = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "--cached", "--others",
                                 "--exclude-standard"], capture_output=True, check=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return sorted(_walk(root))
    return sorted({path for path in listed.split("\0") if path and (root / path).is_file()})


def _walk(root: Path) -> Iterator[str]:
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if path.is_file() and not WALK_SKIP_DIRS.intersection(relative.parts[:-1]):
            yield relative.as_posix()


def read_text(path: Path) -> str | None:
    """The file as text, or None for binary or oversized files."""
    if path.stat().st_size > MAX_SCAN_BYTES:
        return None
    data = path.read_bytes()
    if b"\0" in data[:8192]:
        return None
    return data.decode("utf-8", errors="replace")


# --- secret-shaped values in files ------------------------------------------------------------------------


def check_secret_values(root: Path, files: list[str]) -> list[Problem]:
    problems = []
    for relative in files:
        text = read_text(root / relative)
        for number, line in enumerate((text or "").splitlines(), start=1):
            for match in find_secret_values(line):
                problems.append(Problem(relative, number, f"secret-shaped value ({match.kind}); remove it, revoke "
                                        "it, and assemble test fixtures at run time"))
    return problems


# --- config: Pulumi.yaml and the stack files --------------------------------------------------------------


def _full_key(key: str) -> str:
    return key if ":" in key else f"{PROJECT}:{key}"


def declared_keys(root: Path) -> dict[str, bool]:
    """Full key (`kingtavo:supabaseAccessToken`) -> whether Pulumi.yaml declares it `secret: true`."""
    project = yaml.safe_load((root / "Pulumi.yaml").read_text()) or {}
    return {_full_key(key): isinstance(spec, dict) and spec.get("secret") is True
            for key, spec in (project.get("config") or {}).items()}


def _mapping_items(node: yaml.Node) -> list[tuple[yaml.ScalarNode, yaml.Node]]:
    return [(k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode)] if isinstance(node, yaml.MappingNode) \
        else []


def _is_secure(node: yaml.Node) -> bool:
    items = _mapping_items(node)
    return len(items) == 1 and items[0][0].value == "secure" and isinstance(items[0][1], yaml.ScalarNode)


def _is_blank(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null") or (
        isinstance(node, yaml.ScalarNode) and node.value.strip() == "")


def plaintext_leaves(node: yaml.Node, path: str = "") -> Iterator[tuple[str, yaml.ScalarNode]]:
    """(sub-path, node) of every non-empty value under `node` that is not a `secure:` ciphertext."""
    if _is_secure(node) or _is_blank(node):
        return
    if isinstance(node, yaml.ScalarNode):
        yield path, node
    elif isinstance(node, yaml.MappingNode):
        for key, value in _mapping_items(node):
            yield from plaintext_leaves(value, f"{path}.{key.value}")
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from plaintext_leaves(item, f"{path}[{index}]")


def _secret_named_plaintext(node: yaml.Node, path: str) -> Iterator[tuple[str, yaml.ScalarNode]]:
    """Plaintext values under keys whose names look secret, at any depth."""
    for key, value in _mapping_items(node):
        sub_path = f"{path}.{key.value}"
        if looks_secret_name(key.value.split(":")[-1]):
            for leaf_path, leaf in plaintext_leaves(value, sub_path):
                if not is_placeholder(leaf.value):
                    yield leaf_path, leaf
        else:
            yield from _secret_named_plaintext(value, sub_path)


def check_stack_file(root: Path, relative: str, declared: dict[str, bool]) -> list[Problem]:
    """Secrets only as ciphertext; an undeclared key (a provider's) or a nested field that looks secret, too."""
    document = yaml.compose((root / relative).read_text())
    config = next((value for key, value in _mapping_items(document) if key.value == "config"), None)
    problems = []
    for key, value in _mapping_items(config):
        full = _full_key(key.value)
        bare = full.split(":", 1)[1]
        if declared.get(full):
            for path, leaf in plaintext_leaves(value, full):
                problems.append(Problem(relative, leaf.start_mark.line + 1, f"{path} is declared `secret: true` in "
                                        f"Pulumi.yaml but set in plaintext here; remove it and run "
                                        f"`pulumi config set --secret {bare}` (value not shown)"))
        elif full not in declared and looks_secret_name(bare):
            for path, leaf in plaintext_leaves(value, full):
                if not is_placeholder(leaf.value):
                    problems.append(Problem(relative, leaf.start_mark.line + 1, f"{path} looks secret but is set in "
                                            f"plaintext; use `pulumi config set --secret {key.value}`"))
        else:
            for path, leaf in _secret_named_plaintext(value, full):
                problems.append(Problem(relative, leaf.start_mark.line + 1, f"{path} looks secret but is set in "
                                        "plaintext; make it its own `secret: true` key in Pulumi.yaml"))
    return problems


def check_project_file(root: Path) -> list[Problem]:
    """Pulumi.yaml must not give a secret a default or a value."""
    document = yaml.compose((root / "Pulumi.yaml").read_text())
    config = next((value for key, value in _mapping_items(document) if key.value == "config"), None)
    problems = []
    for key, spec in _mapping_items(config):
        fields = {k.value: v for k, v in _mapping_items(spec)}
        secret = fields.get("secret")
        if not (isinstance(secret, yaml.ScalarNode) and secret.value == "true"):
            continue
        for field in ("default", "value"):
            if field in fields and not _is_blank(fields[field]):
                problems.append(Problem("Pulumi.yaml", fields[field].start_mark.line + 1,
                                        f"{key.value} is `secret: true` but has a {field}; secrets have no defaults"))
    return problems


def check_config(root: Path, files: list[str]) -> list[Problem]:
    if not (root / "Pulumi.yaml").is_file():
        return [Problem("Pulumi.yaml", 0, "missing: the project file declares which config keys are secrets")]
    declared = declared_keys(root)
    stack_files = [f for f in files if re.fullmatch(r"Pulumi\.[^/]+\.ya?ml", f)]
    problems = check_project_file(root)
    for relative in stack_files:
        problems.extend(check_stack_file(root, relative, declared))
    return problems


# --- .gitignore, .env.example and forbidden files ---------------------------------------------------------


def gitignore_rules(text: str) -> list[tuple[bool, str, bool]]:
    """(negated, pattern, anchored) per rule, in order. Directory-only rules are left out (we judge files)."""
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or line.endswith("/"):
            continue
        negated = line.startswith("!")
        pattern = line[1:] if negated else line
        anchored = "/" in pattern.rstrip("/")
        rules.append((negated, pattern.lstrip("/"), anchored))
    return rules


def is_ignored(rules: list[tuple[bool, str, bool]], relative: str) -> bool:
    """Whether git would ignore the file `relative` under these root .gitignore rules (last match wins)."""
    ignored = False
    name = PurePosixPath(relative).name
    for negated, pattern, anchored in rules:
        if fnmatch.fnmatchcase(relative if anchored else name, pattern):
            ignored = not negated
    return ignored


def check_gitignore(root: Path) -> list[Problem]:
    path = root / ".gitignore"
    rules = gitignore_rules(path.read_text()) if path.is_file() else []
    problems = [Problem(".gitignore", 0, f"does not ignore {candidate}; add `.env*` (then `!.env.example`)")
                for candidate in MUST_BE_IGNORED if not is_ignored(rules, candidate)]
    if is_ignored(rules, ENV_EXAMPLE):
        problems.append(Problem(".gitignore", 0, f"ignores {ENV_EXAMPLE}, the committed template; add "
                                f"`!{ENV_EXAMPLE}` after the .env rules"))
    return problems


ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


def _is_template_value(value: str) -> bool:
    return is_placeholder(value) or bool(re.search(r"<[^<>]+>", value))


def check_env_example(root: Path) -> list[Problem]:
    path = root / ENV_EXAMPLE
    if not path.is_file():
        return [Problem(ENV_EXAMPLE, 0, "missing: commit a template listing every variable with placeholder values")]
    problems = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        match = ENV_LINE.match(line)
        if not match or line.lstrip().startswith("#"):
            continue
        name, value = match.group(1), match.group(2).strip("'\"")
        if looks_secret_name(name) and not _is_template_value(value):
            problems.append(Problem(ENV_EXAMPLE, number, f"{name} looks secret but its value is not a placeholder; "
                                    f"write {name}=<your-{name.lower().replace('_', '-')}>"))
    return problems


def _forbidden_name(relative: str) -> str | None:
    path = PurePosixPath(relative)
    name = path.name
    if name != ENV_EXAMPLE and (name == ".env" or name.startswith(".env.")):
        return "a local env file (secrets live in .env.local, never committed)"
    if name in PRIVATE_KEY_NAMES or name.endswith(PRIVATE_KEY_SUFFIXES):
        return "a private key file"
    if name.startswith("kubeconfig") or name.endswith(".kubeconfig") or relative.endswith(".kube/config"):
        return "a kubeconfig"
    return None


def check_forbidden_files(root: Path, files: list[str]) -> list[Problem]:
    problems = []
    for relative in files:
        reason = _forbidden_name(relative)
        if reason is None:
            text = read_text(root / relative) or ""
            if all(marker.search(text) for marker in KUBECONFIG_MARKERS):
                reason = "a kubeconfig (kind: Config with clusters and users)"
        if reason:
            problems.append(Problem(relative, 0, f"{reason} must not be committed; delete it from the repository"))
    return problems


# --- all together -----------------------------------------------------------------------------------------


def check_repository(root: Path = ROOT) -> list[Problem]:
    """Every problem in the repository at `root`, in file order."""
    files = committed_files(root)
    problems = [*check_config(root, files), *check_secret_values(root, files), *check_gitignore(root),
                *check_env_example(root), *check_forbidden_files(root, files)]
    return sorted(set(problems), key=lambda p: (p.path, p.line, p.message))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.repo_check", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root (default: this checkout)")
    args = parser.parse_args(argv)
    problems = check_repository(args.root.resolve())
    for problem in problems:
        print(problem)
    print(f"repo_check: {len(problems)} problem(s)" if problems else "repo_check: clean", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
