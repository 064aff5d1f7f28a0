"""`tools.image_check` against moto's ECR: a pushed tag passes, an unpushed tag or digest is named."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from tools import image_check
from tools.image_check import ImageRef, missing_images

ACCOUNT = "123456789012"  # moto's account


@pytest.fixture
def ecr():
    with mock_aws():
        client = boto3.client("ecr", region_name="eu-central-1")
        client.create_repository(repositoryName="kingtavo/etl", imageTagMutability="IMMUTABLE")
        manifest = '{"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"}'
        client.put_image(repositoryName="kingtavo/etl", imageManifest=manifest, imageTag="1.4.2")
        yield client


def ref(tag=None, digest=None, repository="kingtavo/etl"):
    return ImageRef("kingtavo:etl.blue.image", ACCOUNT, "eu-central-1", repository, tag, digest)


def test_a_pushed_tag_passes(ecr):
    assert missing_images([ref(tag="1.4.2")]) == []


def test_an_unpushed_tag_is_named_with_its_key(ecr):
    [problem] = missing_images([ref(tag="9.9.9")])
    assert problem.startswith("kingtavo:etl.blue.image: kingtavo/etl:9.9.9 not found in registry")


def test_a_digest_is_checked_by_digest(ecr):
    pushed = ecr.describe_images(repositoryName="kingtavo/etl")["imageDetails"][0]["imageDigest"]
    assert missing_images([ref(digest=pushed)]) == []
    assert missing_images([ref(digest="sha256:" + "0" * 64)])


def test_a_missing_repository_is_named(ecr):
    [problem] = missing_images([ref(tag="1.4.2", repository="kingtavo/other")])
    assert "RepositoryNotFoundException" in problem


def test_the_committed_stacks_name_two_images_each():
    for stack in ("staging", "production"):
        refs = image_check.stack_images(stack)
        assert [r.key for r in refs] == ["kingtavo:etl.blue.image", "kingtavo:etl.green.image"]
        assert all(r.repository == "kingtavo/etl" and r.tag for r in refs)
