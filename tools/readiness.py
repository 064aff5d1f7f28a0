"""Is a stack ready for a first real `pulumi up`? Every setting that still holds a placeholder, named.

    python -m tools.readiness --stack staging        # exit 1 and one line per placeholder; 0 when ready
    python -m tools.readiness --stack staging --count  # just the number (the offline plan shows it)

The committed stack files hold example values so that `make plan` works without an account. A
real deploy with them fails late or, worse, succeeds against the wrong thing (a documentation IP
range on the API endpoint, an example account in the image names). This check finds them before
`pulumi up`, offline:

- documentation address ranges (RFC 5737 / RFC 3849) in any CIDR or address;
- AWS's example account ids (111122223333, 123456789012, ...), e.g. in image names;
- `placeholder` / `example` / `changeme` markers (and their truncated forms) in any string;
- any value whose line in the stack file carries the comment `# placeholder` (for ids that look
  real but are not, like Slack and Sentry ids): remove the comment when you set the real value;
- prerequisites: the database CA the rotation function verifies the server against
  (lambdas/secret_rotation/certs/prod-ca-2021.crt) is a certificate, not the placeholder; the
  bootstrap stacks the program reads its registry and CI roles from
  (`kingtavo:bootstrap`) exist in bootstrap/ and hold no placeholder themselves (an example
  account id there would put every CI role in the wrong account).

The deploy workflows run it before `pulumi up`; `make plan` keeps working on placeholders and
reports how many remain. No library knows our placeholder conventions, hence this small module.
"""

from __future__ import annotations

import argparse
import ipaddress
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from components.core.environments import STACKS

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTATION_RANGES = [ipaddress.ip_network(n) for n in
                        ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")]
EXAMPLE_ACCOUNTS = ("111122223333", "123456789012", "444455556666", "000000000000", "999999999999")
MARKER = re.compile(r"placeho?l?d?e?r|placehd|example|changeme|replace[-_ ]?me|\btodo\b", re.IGNORECASE)
TOKEN_SEPARATORS = re.compile(r"[\s,;\[\]\"'=()]+")
PLACEHOLDER_COMMENT = re.compile(r"#\s*placeholder\b", re.IGNORECASE)
BOOTSTRAP_PROJECT = "kingtavo-bootstrap"
DATABASE_CA = Path("lambdas/secret_rotation/certs/prod-ca-2021.crt")


@dataclass(frozen=True)
class Finding:
    key: str  # the full key, e.g. kingtavo:cluster.publicAccessCidrs[0]
    reason: str

    def __str__(self) -> str:
        return f"{self.key}: {self.reason}"


def _walk(value: Any, key: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for name, item in value.items():
            yield from _walk(item, f"{key}.{name}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{key}[{index}]")
    else:
        yield key, value


def value_findings(key: str, value: Any) -> list[Finding]:
    """What makes one value a placeholder (never echoes more than the offending fragment's kind)."""
    if not isinstance(value, str):
        return []
    findings = []
    for token in TOKEN_SEPARATORS.split(value):
        try:
            network = ipaddress.ip_network(token, strict=False)
        except ValueError:
            continue
        if any(network.subnet_of(doc) for doc in DOCUMENTATION_RANGES if doc.version == network.version):
            findings.append(Finding(key, f"{network} is a documentation range (RFC 5737/3849), not a real address"))
    for account in EXAMPLE_ACCOUNTS:
        if account in value:
            findings.append(Finding(key, f"names AWS's example account {account}; use the stack's account id"))
    marker = MARKER.search(value)
    if marker:
        findings.append(Finding(key, f"holds a placeholder marker ({marker.group(0)!r}); set the real value"))
    return findings


def commented_placeholders(text: str) -> list[Finding]:
    """Keys whose line in the stack file says `# placeholder` (full key from the YAML nesting)."""
    findings, path = [], []
    for line in text.splitlines():
        stripped = line.split("#", 1)[0].rstrip()
        match = re.match(r"^(\s*)(\S.*?):(?:\s|$)", stripped)
        if match:
            depth = len(match.group(1)) // 2
            path = [*path[:depth], match.group(2).strip()]
        if PLACEHOLDER_COMMENT.search(line) and path:
            top, *rest = path[1:] if path[0] == "config" else path
            findings.append(Finding(".".join([top, *rest]), "marked `# placeholder` in the stack file"))
    return findings


def bootstrap_findings(references: Any, root: Path) -> list[Finding]:
    """The bootstrap stacks named in `kingtavo:bootstrap` exist and are ready themselves."""
    if not isinstance(references, dict) or not references:
        return [Finding("kingtavo:bootstrap", "is not set: name the bootstrap stacks (stack, registryStack)")]
    findings = []
    for field, qualified in sorted(references.items()):
        key = f"kingtavo:bootstrap.{field}"
        parts = str(qualified).split("/")
        if len(parts) != 3 or parts[1] != BOOTSTRAP_PROJECT:
            findings.append(Finding(key, f"expected <org>/{BOOTSTRAP_PROJECT}/<stack>"))
            continue
        path = root / "bootstrap" / f"Pulumi.{parts[2]}.yaml"
        if not path.exists():
            findings.append(Finding(key, f"names bootstrap stack {parts[2]!r}, but bootstrap/{path.name} does "
                                         f"not exist"))
            continue
        text = path.read_text()
        for top, value in ((yaml.safe_load(text) or {}).get("config") or {}).items():
            for leaf_key, leaf in _walk(value, top):
                findings.extend(Finding(f"bootstrap/{path.name}: {f.key}", f.reason)
                                for f in value_findings(leaf_key, leaf))
        findings.extend(Finding(f"bootstrap/{path.name}: {f.key}", f.reason) for f in commented_placeholders(text))
    return findings


def certificate_findings(root: Path) -> list[Finding]:
    """The rotation function refuses to connect without Supabase's CA: the file must hold a PEM certificate."""
    path = root / DATABASE_CA
    text = path.read_text() if path.exists() else ""
    if "-----BEGIN CERTIFICATE-----" in text:
        return []
    return [Finding(str(DATABASE_CA), "holds no certificate: put Supabase's prod-ca-2021.crt there (dashboard: "
                                      "Database settings > SSL configuration); every rotation fails until then")]


def check(stack: str, root: Path = ROOT) -> list[Finding]:
    path = root / f"Pulumi.{stack}.yaml"
    text = path.read_text()
    config = (yaml.safe_load(text) or {}).get("config") or {}
    findings: list[Finding] = []
    for top, value in config.items():
        for key, leaf in _walk(value, top):
            findings.extend(value_findings(key, leaf))
    findings.extend(commented_placeholders(text))
    findings.extend(bootstrap_findings(config.get("kingtavo:bootstrap"), root))
    findings.extend(certificate_findings(root))
    unique = {str(f): f for f in findings}
    return sorted(unique.values(), key=lambda f: (f.key, f.reason))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.readiness", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, choices=STACKS)
    parser.add_argument("--count", action="store_true", help="print only the number of placeholders")
    args = parser.parse_args(argv)
    findings = check(args.stack)
    if args.count:
        print(len(findings))
        return 0
    if not findings:
        print(f"stack {args.stack}: ready (no placeholder, every prerequisite named)")
        return 0
    print(f"stack {args.stack}: not ready, {len(findings)} placeholder(s) or missing prerequisite(s):")
    for finding in findings:
        print(f"  - {finding}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
