"""Production promotes only what staging proved: every web app commit and ETL image digest production is
about to serve must have a successful, smoke-tested staging deployment recorded in ops.deployments.

    OPS_RECORDER_DATABASE_URL=<staging recorder URL> python -m tools.release_gate \\
        --stack-file Pulumi.production.yaml [--color green] [--require-e2e]
    OPS_RECORDER_DATABASE_URL=... python -m tools.release_gate --web-sha <40 hex> --etl-digest sha256:<64 hex>

With --stack-file it reads `kingtavo:frontend.<color>.ref` and `kingtavo:etl.<color>.image` of each color
(or only --color): a web ref that is not a full commit SHA, or an image not pinned by digest
(`...@sha256:...`), is refused, since nothing can prove a moving name. It reads the staging database as the
recorder login (which sees the deployment rows it recorded itself; tools/ops_record_core.py, TLS verified).

Exit 0 when everything is proven, 1 when something is refused (each named, with what staging recorded
for it), 2 when the gate cannot decide (no database, bad input): the workflow must stop on anything but 0.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from tools import ops_record_core

URL_ENV = "OPS_RECORDER_DATABASE_URL"
SHA = re.compile(r"^[0-9a-f]{40}$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
QUERY = """
SELECT id, color, status, smoke_passed, e2e_passed, finished_at, run_url FROM ops.deployments
WHERE environment = :proving AND {column} = :value ORDER BY finished_at DESC NULLS LAST, id DESC
"""


def proving_environment() -> str:
    """The environment whose recorded, smoke-tested deployments production promotes (the environment table)."""
    from components.core.environments import ENVIRONMENTS  # here: tools/release.py imports this module alone

    return next(env.promotes_from for env in ENVIRONMENTS.values() if env.promotes_from)


class GateError(RuntimeError):
    """The gate cannot decide (input or database); never a pass."""


@dataclass(frozen=True)
class Item:
    kind: str       # "web" or "etl"
    value: str      # commit SHA or image digest
    where: str      # where it came from, for the message


def items_from_stack(path: Path, colors: list[str]) -> tuple[list[Item], list[str]]:
    """(items to prove, refusals) from a stack file's release settings."""
    try:
        config = (yaml.safe_load(path.read_text()) or {}).get("config") or {}
    except (OSError, yaml.YAMLError) as error:
        raise GateError(f"--stack-file {path}: cannot read it as YAML ({type(error).__name__})") from None
    items, refusals = [], []
    for color in colors:
        ref = ((config.get("kingtavo:frontend") or {}).get(color) or {}).get("ref")
        where = f"kingtavo:frontend.{color}.ref"
        if not isinstance(ref, str) or not SHA.match(ref):
            refusals.append(f"{where} is {ref!r}, not a 40-character commit SHA: a moving ref cannot be proven")
        else:
            items.append(Item("web", ref, where))
        image = ((config.get("kingtavo:etl") or {}).get(color) or {}).get("image")
        where = f"kingtavo:etl.{color}.image"
        digest = image.rsplit("@", 1)[-1] if isinstance(image, str) and "@" in image else None
        if digest is None or not DIGEST.match(digest):
            refusals.append(f"{where} is {image!r}, not pinned by digest (<repository>@sha256:<64 hex>)")
        else:
            items.append(Item("etl", digest, where))
    return items, refusals


def proves(row: list, require_e2e: bool) -> bool:
    _id, _color, status, smoke, e2e, _finished, _url = row
    return status == "succeeded" and smoke is True and (e2e is True or not require_e2e)


def verdict(item: Item, rows: list[list], require_e2e: bool) -> str | None:
    """None when a staging deployment proves the item, else why not (naming what staging recorded)."""
    label = f"{'web commit' if item.kind == 'web' else 'ETL digest'} {item.value} ({item.where})"
    if any(proves(row, require_e2e) for row in rows):
        return None
    if not rows:
        return f"{label}: no staging deployment recorded"
    latest_id, color, status, smoke, e2e, _finished, url = rows[0]
    checks = f"smoke {'passed' if smoke else 'failed' if smoke is False else 'not run'}"
    if require_e2e:
        checks += f", e2e {'passed' if e2e else 'failed' if e2e is False else 'not run'}"
    where = f" ({url})" if url else ""
    return (f"{label}: no successful, smoke-tested staging deployment; latest is #{latest_id} on {color}: "
            f"{status}, {checks}{where}")


def find_proof(url: str, items: list[Item], require_e2e: bool) -> dict[Item, tuple[str | None, int | None]]:
    """For each item: (refusal or None, the id of the proving deployment)."""
    try:
        connection = ops_record_core.connect(url)
    except Exception as error:  # noqa: BLE001 - any failure to connect means the gate cannot decide
        raise GateError(f"cannot read staging's ops.deployments: {ops_record_core.describe_error(error)}") from None
    results = {}
    try:
        for item in items:
            column = "web_sha" if item.kind == "web" else "etl_digest"
            rows = connection.run(QUERY.format(column=column), value=item.value, proving=proving_environment())
            proof = next((row[0] for row in rows if proves(row, require_e2e)), None)
            results[item] = (verdict(item, rows, require_e2e), proof)
    except Exception as error:  # noqa: BLE001
        raise GateError(f"cannot read staging's ops.deployments: {ops_record_core.describe_error(error)}") from None
    finally:
        connection.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.release_gate", description=__doc__.splitlines()[0])
    parser.add_argument("--stack-file", type=Path, help="read each color's web ref and ETL image from it")
    parser.add_argument("--color", choices=("blue", "green"), action="append",
                        help="with --stack-file: only this color (repeatable; default both)")
    parser.add_argument("--web-sha", action="append", default=[], help="a web app commit to prove (repeatable)")
    parser.add_argument("--etl-digest", action="append", default=[], help="an ETL image digest (repeatable)")
    parser.add_argument("--require-e2e", action="store_true", help="also require the browser checks to have passed")
    args = parser.parse_args(argv)

    items, refusals = [], []
    for value in args.web_sha:
        if not SHA.match(value):
            parser.error(f"--web-sha: expected a 40-character lowercase commit SHA, got {value[:80]!r}")
        items.append(Item("web", value, "--web-sha"))
    for value in args.etl_digest:
        if not DIGEST.match(value):
            parser.error(f"--etl-digest: expected sha256:<64 hex>, got {value[:80]!r}")
        items.append(Item("etl", value, "--etl-digest"))
    try:
        if args.stack_file:
            found, refused = items_from_stack(args.stack_file, args.color or ["blue", "green"])
            items, refusals = items + found, refusals + refused
        elif args.color:
            parser.error("--color needs --stack-file")
        if not items and not refusals:
            parser.error("nothing to check: give --stack-file, --web-sha or --etl-digest")
        results = find_proof(os.environ.get(URL_ENV) or "", items, args.require_e2e) if items else {}
    except (GateError, ops_record_core.RecorderConfigError) as error:
        print(f"release gate: cannot decide: {error}", file=sys.stderr)
        return 2
    for item, (refusal, proof) in results.items():
        if refusal:
            refusals.append(refusal)
        else:
            print(f"release gate: ok {item.kind} {item.value} ({item.where}): proven by staging deployment #{proof}")
    for refusal in refusals:
        print(f"::error::release gate: REFUSED {refusal}")
    return 1 if refusals else 0


if __name__ == "__main__":
    sys.exit(main())
