"""Which release a deploy run carries, read from the stack file: glue for the deploy workflows.

    python -m tools.release --stack-file Pulumi.staging.yaml --live-color blue [--before-file OLD.yaml] [--force]
    python -m tools.release --stack-file Pulumi.production.yaml --describe green   # web-sha=, etl-digest=

A release is a reviewed pull request that changes the IDLE color's `kingtavo:frontend.<idle>.ref` and/or
`kingtavo:etl.<idle>.image` (git stays the source of truth; the pull request's preview shows the change).
The run is a release, and flips after its checks, when those settings differ from the ones in --before-file
(the stack file of the previous deploy: the push's parent commit, or the previous release tag), or with
--force (a manual run). A change to the LIVE color's release settings is refused: it would go live with
no smoke or e2e check. A release must be pinned (web ref a 40-character commit SHA, image by
`@sha256:` digest), otherwise nothing can later prove to production what staging tested.

Prints `key=value` lines (and appends them to $GITHUB_OUTPUT in GitHub Actions): `release` (true|false),
`live`, `idle`, `web-sha`, `etl-digest` (of the idle color, empty when not pinned), `version` (a name for
the ops record: web-<sha12>+etl-<digest12>). Exit 0, 1 refused (named), 2 bad input. `--describe COLOR`
prints only what that color runs (the pinned parts, empty otherwise), for recording a flip or a flip back.
Own code because it is twenty lines of YAML reading on the same rules as tools/release_gate.py (reused).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import yaml

from tools.release_gate import DIGEST, SHA

COLORS = ("blue", "green")


class ReleaseError(ValueError):
    """Bad input: names the file or key and what was expected."""


def release_of(config: dict, color: str) -> tuple[str | None, str | None]:
    """(web ref, ETL image) the stack file names for a color."""
    ref = ((config.get("kingtavo:frontend") or {}).get(color) or {}).get("ref")
    image = ((config.get("kingtavo:etl") or {}).get(color) or {}).get("image")
    return ref, image


def load_config(path: Path) -> dict:
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ReleaseError(f"{path}: cannot read it as YAML ({type(error).__name__})") from None
    config = document.get("config") if isinstance(document, dict) else None
    if not isinstance(config, dict):
        raise ReleaseError(f"{path}: expected a mapping under `config:`")
    return config


def digest_of(image: str | None) -> str:
    digest = image.rsplit("@", 1)[-1] if isinstance(image, str) and "@" in image else ""
    return digest if DIGEST.match(digest) else ""


def decide(config: dict, live: str, before: dict | None, force: bool) -> tuple[dict[str, str], list[str]]:
    """(outputs, refusals) for a run deploying `config` while `live` serves."""
    if live not in COLORS:
        raise ReleaseError(f"--live-color: expected blue or green, got {live!r}")
    idle = "green" if live == "blue" else "blue"
    ref, image = release_of(config, idle)
    refusals = []
    changed = force
    if before is not None:
        if release_of(before, live) != release_of(config, live):
            refusals.append(f"kingtavo:frontend.{live}.ref / kingtavo:etl.{live}.image changed, but {live} is live: "
                            f"a release goes to the idle color ({idle}), is checked there, then flipped")
        changed = changed or release_of(before, idle) != (ref, image)
    web_sha = ref if isinstance(ref, str) and SHA.match(ref) else ""
    etl_digest = digest_of(image)
    if changed:
        if not web_sha:
            refusals.append(f"kingtavo:frontend.{idle}.ref is {ref!r}: a release names a 40-character commit SHA")
        if not etl_digest:
            refusals.append(f"kingtavo:etl.{idle}.image is {image!r}: a release pins the image by @sha256: digest")
    version = f"web-{web_sha[:12] or 'unpinned'}+etl-{etl_digest[7:19] or 'unpinned'}"
    outputs = {"release": "true" if changed else "false", "live": live, "idle": idle, "web-sha": web_sha,
               "etl-digest": etl_digest, "version": version}
    return outputs, refusals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.release", description=__doc__.splitlines()[0])
    parser.add_argument("--stack-file", type=Path, required=True)
    parser.add_argument("--live-color", help="the color serving now (blue or green)")
    parser.add_argument("--describe", choices=COLORS, help="print what this color runs and stop")
    parser.add_argument("--before-file", type=Path, help="the stack file of the previous deploy")
    parser.add_argument("--force", action="store_true", help="a release even if the idle settings did not change")
    args = parser.parse_args(argv)
    if not (args.describe or args.live_color):
        parser.error("give --live-color (is this run a release?) or --describe COLOR")
    try:
        if args.describe:
            ref, image = release_of(load_config(args.stack_file), args.describe)
            print(f"web-sha={ref if isinstance(ref, str) and SHA.match(ref) else ''}\netl-digest={digest_of(image)}")
            return 0
        before = load_config(args.before_file) if args.before_file else None
        outputs, refusals = decide(load_config(args.stack_file), args.live_color, before, args.force)
    except ReleaseError as error:
        print(f"release: {error}", file=sys.stderr)
        return 2
    lines = [f"{key}={value}" for key, value in outputs.items()]
    print("\n".join(lines))
    for refusal in refusals:
        print(f"::error::release refused: {refusal}")
    if refusals:
        return 1
    if os.environ.get("GITHUB_OUTPUT"):
        with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
