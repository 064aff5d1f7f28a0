"""Refuse a deploy whose ETL images are not in the registry: every `etl.<color>.image` must exist there.

    python -m tools.image_check --stack production     # exit 1 naming each missing image, 0 when all exist

Run by the deploy workflows after AWS sign-in and before `pulumi up`: a Deployment that names a tag
nobody pushed would wait for readiness until the update times out, half-applied. Tags are
immutable in the registry, so a tag that exists is the image CI built and scanned; a digest
reference is checked by digest. Uses boto3's ECR `describe_images` (pagination not needed: one
image id per call).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import boto3
import yaml

from components.core.environments import STACKS
from components.core.settings import ECR_HOST, IMAGE
from tools.harness import ROOT


@dataclass(frozen=True)
class ImageRef:
    key: str  # kingtavo:etl.blue.image
    registry_id: str
    region: str
    repository: str
    tag: str | None
    digest: str | None


def stack_images(stack: str) -> list[ImageRef]:
    config = (yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text()) or {})["config"]
    refs = []
    for color in ("blue", "green"):
        image = config["kingtavo:etl"][color]["image"]
        match = IMAGE.match(image)
        host, _, repository = match.group("repo").partition("/")
        ecr = ECR_HOST.match(host)
        if not ecr:
            raise ValueError(f"kingtavo:etl.{color}.image: {image!r} is not in an ECR registry")
        refs.append(ImageRef(f"kingtavo:etl.{color}.image", ecr["account"], ecr["region"], repository,
                             match.group("tag"), match.group("digest")))
    return refs


def missing_images(refs: list[ImageRef], client_for=None) -> list[str]:
    """One problem line per image the registry does not hold (or cannot be asked about)."""
    client_for = client_for or (lambda region: boto3.client("ecr", region_name=region))
    problems = []
    for ref in refs:
        image_id = {"imageDigest": ref.digest} if ref.digest else {"imageTag": ref.tag}
        shown = ref.digest or ref.tag
        try:
            found = client_for(ref.region).describe_images(
                registryId=ref.registry_id, repositoryName=ref.repository, imageIds=[image_id])
        except Exception as error:  # noqa: BLE001 - every failure means "not proven present"; named below
            code = getattr(error, "response", {}).get("Error", {}).get("Code", type(error).__name__)
            problems.append(f"{ref.key}: {ref.repository}:{shown} not found in registry {ref.registry_id} "
                            f"({code}); push it with the etl-image workflow first")
            continue
        if not found.get("imageDetails"):
            problems.append(f"{ref.key}: {ref.repository}:{shown} not found in registry {ref.registry_id}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.image_check", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, choices=STACKS)
    args = parser.parse_args(argv)
    problems = missing_images(stack_images(args.stack))
    if problems:
        print(f"stack {args.stack}: {len(problems)} image(s) missing; not deploying:")
        for problem in problems:
            print(f"  - {problem}")
        return 1
    print(f"stack {args.stack}: every ETL image is in the registry")
    return 0


if __name__ == "__main__":
    sys.exit(main())
