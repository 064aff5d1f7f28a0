"""Write `Pulumi.yaml`'s `config:` block from the settings models, or check that it is current.

    python -m tools.schema           # rewrite the config block of Pulumi.yaml
    python -m tools.schema --check   # exit 1 (and say which keys differ) when Pulumi.yaml is stale

Everything above the `config:` line (name, runtime, the comment) is kept as written; the block itself
is `components.core.settings.schema.config_schema()`, dumped with long descriptions folded.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from components.core.settings.schema import config_schema

ROOT = Path(__file__).resolve().parent.parent
PULUMI_YAML = ROOT / "Pulumi.yaml"
CONFIG_LINE = "config:\n"


class _Dumper(yaml.SafeDumper):
    """Long strings folded (`>-`), so a description reads as a paragraph and diffs by line."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = ">" if len(value) > 80 else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def render(current: str) -> str:
    """`current` with its config block replaced by the generated one."""
    head, found, _ = current.partition(f"\n{CONFIG_LINE}")
    if not found:
        raise ValueError(f"{PULUMI_YAML.name}: no top-level 'config:' line to replace")
    block = yaml.dump({"config": config_schema()}, Dumper=_Dumper, sort_keys=False, width=110, allow_unicode=True)
    return f"{head}\n{block}"


def stale_keys(current: str) -> list[str]:
    """The config keys whose committed declaration differs from the generated one."""
    committed = (yaml.safe_load(current) or {}).get("config") or {}
    generated = config_schema()
    return sorted(key for key in set(committed) | set(generated) if committed.get(key) != generated.get(key))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.schema", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when Pulumi.yaml is not what would be written")
    args = parser.parse_args(argv)
    current = PULUMI_YAML.read_text()
    wanted = render(current)
    if args.check:
        if current != wanted:
            keys = stale_keys(current)
            shown = ", ".join(keys) if keys else "formatting only"
            print(f"{PULUMI_YAML.name} is stale ({shown}); run `python -m tools.schema` (make schema)",
                  file=sys.stderr)
            return 1
        print(f"{PULUMI_YAML.name} is current")
        return 0
    if current != wanted:
        PULUMI_YAML.write_text(wanted)
        print(f"wrote {PULUMI_YAML.name}")
    else:
        print(f"{PULUMI_YAML.name} is current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
