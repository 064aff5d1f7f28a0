"""The mock engine's answers: realistic invoke results and resource outputs for the offline plan.

Split from `tools/harness.py` (which runs the program and records what it registers) so that
each provider's answers sit together. A mock that is asked for an invoke it does not know
fails loudly, so a new data source is mocked on purpose rather than silently answered with
nothing. Where the real API has a limit the program depends on, the mock has it too: a
region answers with its real number of availability zones.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from components.core import regions

FAKE_ACCOUNT_ID = "111122223333"
DEFAULT_REGION = "eu-central-1"
VERCEL_TEAM_ID = "team_fakeofflineplan00000000"  # the team of the project, declared or looked up

# Availability zones per region: the one table settings validation also reads (an unknown region fails).
REGION_ZONES = regions.REGION_ZONES


def availability_zones(region: str) -> dict:
    """`getAvailabilityZones` as AWS answers it for this region."""
    if region not in REGION_ZONES:
        raise NotImplementedError(f"the offline plan does not know region {region!r}'s zones; add it to "
                                  f"components/core/regions.py")
    prefix, count = REGION_ZONES[region]
    letters = "abcdefghij"[:count]
    return {"id": region, "names": [f"{region}{c}" for c in letters],
            "zoneIds": [f"{prefix}-az{i + 1}" for i in range(count)], "groupNames": [region]}

# --- mocks -------------------------------------------------------------------------------------------------


class KingtavoMocks:
    """Realistic answers for the invokes the program makes and outputs for the resources it declares."""

    def __init__(self, region: str, stack_outputs: Mapping[str, Mapping[str, Any]] | None = None):
        self.region = region
        # fully qualified stack name -> its outputs, for `pulumi.StackReference` (see tools/harness.py)
        self.stack_outputs = dict(stack_outputs or {})

    # Invokes -----------------------------------------------------------------------------------------------
    def call(self, args):
        invoke = args.token
        region = self.region
        if invoke == "aws:index/getAvailabilityZones:getAvailabilityZones":
            return availability_zones(region)
        if invoke == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"id": FAKE_ACCOUNT_ID, "accountId": FAKE_ACCOUNT_ID, "userId": "AROAFAKEPLANUSER",
                    "arn": f"arn:aws:sts::{FAKE_ACCOUNT_ID}:assumed-role/offline-plan/session"}
        if invoke == "aws:index/getRegion:getRegion":
            return {"id": region, "name": region, "region": region, "description": "offline plan",
                    "endpoint": f"ec2.{region}.amazonaws.com"}
        if invoke == "aws:index/getPartition:getPartition":
            return {"id": "aws", "partition": "aws", "dnsSuffix": "amazonaws.com", "reverseDnsPrefix": "com.amazonaws"}
        if invoke == "aws:iam/getPolicyDocument:getPolicyDocument":
            return {"id": "policy", "json": json.dumps({"Version": "2012-10-17",
                                                        "Statement": args.args.get("statements", [])})}
        if invoke == "vercel:index/getProject:getProject":
            # The project the production stack declares, as staging's lookup finds it.
            project = args.args.get("name", "project")
            return {"id": vercel_project_id(project), "name": project, "framework": "nextjs",
                    "autoAssignCustomDomains": False, "teamId": VERCEL_TEAM_ID}
        if invoke == "github:index/getTeam:getTeam":
            # A team as GitHub answers it: a numeric id (rulesets and environments take it), stable per slug.
            slug = args.args["slug"]
            team_id = str(1000000 + int(hashlib.sha256(slug.encode()).hexdigest()[:6], 16))
            return {"id": team_id, "slug": slug, "name": slug, "nodeId": f"T_fake{team_id}", "privacy": "closed",
                    "members": [], "repositories": [], "repositoriesDetaileds": []}
        raise NotImplementedError(f"the offline plan has no mock for invoke {invoke}; add one to tools/mocks.py")

    # Resources ---------------------------------------------------------------------------------------------
    def new_resource(self, args):
        outputs = copy.deepcopy(dict(args.inputs))
        name, typ = args.name, args.typ
        resource_id = f"{name}-id"
        pkg = typ.split(":", 1)[0]
        if pkg == "aws":
            service = typ.split(":")[1].split("/")[0]
            arn_service = {"cloudwatch": "logs" if "logGroup" in typ else "cloudwatch", "lambda": "lambda",
                           "secretsmanager": "secretsmanager"}.get(service, service)
            account = "" if arn_service in ("iam", "s3") else FAKE_ACCOUNT_ID
            region = "" if arn_service in ("iam", "s3") else self.region
            outputs.setdefault("arn", f"arn:aws:{arn_service}:{region}:{account}:{_arn_resource(typ, outputs, name)}")
        outputs.update(self._specific_outputs(typ, name, outputs, resource_id))
        return outputs.pop("__id", resource_id), outputs

    def _specific_outputs(self, typ: str, name: str, outputs: dict, resource_id: str) -> dict:
        region = self.region
        if typ == "pulumi:pulumi:StackReference":
            stack = outputs.get("name", name)
            if stack not in self.stack_outputs:
                raise NotImplementedError(f"the offline plan cannot answer StackReference {stack!r}: it knows "
                                          f"{sorted(self.stack_outputs) or 'no stack'}")
            return {"__id": stack, "outputs": dict(self.stack_outputs[stack]), "secretOutputNames": []}
        if typ == "aws:kms/key:Key":
            key_id = hashlib.md5(name.encode(), usedforsecurity=False).hexdigest()
            key_id = f"{key_id[:8]}-{key_id[8:12]}-{key_id[12:16]}-{key_id[16:20]}-{key_id[20:32]}"
            return {"__id": key_id, "keyId": key_id, "arn": f"arn:aws:kms:{region}:{FAKE_ACCOUNT_ID}:key/{key_id}"}
        if typ == "aws:ec2/eip:Eip":
            # An Elastic IP's public address, stable per resource, from TEST-NET-2 (198.51.100.0/24).
            return {"publicIp": f"198.51.100.{int(hashlib.sha256(name.encode()).hexdigest(), 16) % 250 + 1}"}
        if typ == "aws:ec2/vpc:Vpc":
            return {"__id": "vpc-0fa1e0000000000a1", "defaultSecurityGroupId": "sg-0default0000000001"}
        if typ == "aws:eks/cluster:Cluster":
            cluster = outputs.get("name", name)
            # each cluster has its own issuer id (32 upper-case hex characters), as EKS gives it
            issuer_id = hashlib.md5(cluster.encode(), usedforsecurity=False).hexdigest().upper()
            issuer = f"https://oidc.eks.{region}.amazonaws.com/id/{issuer_id}"
            return {"__id": cluster, "endpoint": f"https://FAKE0123456789.gr7.{region}.eks.amazonaws.com",
                    "certificateAuthority": {"data": "ZmFrZS1jbHVzdGVyLWNh"},
                    "identities": [{"oidcs": [{"issuer": issuer}]}],
                    "arn": f"arn:aws:eks:{region}:{FAKE_ACCOUNT_ID}:cluster/{cluster}"}
        if typ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
            url = outputs.get("url", "oidc.example").removeprefix("https://")
            return {"arn": f"arn:aws:iam::{FAKE_ACCOUNT_ID}:oidc-provider/{url}"}
        if typ == "aws:iam/role:Role":
            role = outputs.get("name", name)
            return {"__id": role, "name": role, "arn": f"arn:aws:iam::{FAKE_ACCOUNT_ID}:role/{role}"}
        if typ.startswith("aws:s3/bucket"):
            bucket = outputs.get("bucket", name)
            return {"__id": bucket, "bucket": bucket, "arn": f"arn:aws:s3:::{bucket}"}
        if typ == "aws:lambda/function:Function":
            fn = outputs.get("name", name)
            return {"__id": fn, "name": fn, "arn": f"arn:aws:lambda:{region}:{FAKE_ACCOUNT_ID}:function:{fn}",
                    "invokeArn": f"arn:aws:apigateway:{region}:lambda:path/functions/{fn}/invocations"}
        if typ == "aws:lambda/functionUrl:FunctionUrl":
            url_id = hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()[:32]
            return {"functionUrl": f"https://{url_id}.lambda-url.{region}.on.aws/", "urlId": url_id}
        if typ == "random:index/randomPassword:RandomPassword":
            # A generated credential: obviously fake, stable per resource, so tests can trace where it flows.
            return {"result": f"fake-random-{name}-{hashlib.sha256(name.encode()).hexdigest()[:16]}"}
        if typ == "aws:ecr/repository:Repository":
            repo = outputs.get("name", name)
            return {"__id": repo, "registryId": FAKE_ACCOUNT_ID,
                    "repositoryUrl": f"{FAKE_ACCOUNT_ID}.dkr.ecr.{region}.amazonaws.com/{repo}"}
        if typ == "github:index/repositoryRuleset:RepositoryRuleset":
            return {"rulesetId": int(hashlib.sha256(name.encode()).hexdigest()[:6], 16), "etag": "W/fake"}
        if typ.startswith("sentry:index/"):
            return _sentry_outputs(typ, outputs)
        if typ.startswith("vercel:"):
            kind = typ.rsplit(":", 1)[-1].lower()
            vercel_id = f"{kind[:3]}_{hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()[:20]}"
            extra: dict[str, Any] = {"__id": vercel_id}
            if typ == "vercel:index/webhook:Webhook":
                # Vercel generates the signing secret: obviously fake, stable per resource, traceable by tests.
                extra["secret"] = f"fake-vercel-webhook-{hashlib.sha256(name.encode()).hexdigest()[:24]}"
            if typ == "vercel:index/project:Project":
                extra["__id"] = vercel_project_id(outputs.get("name", name))
                extra["teamId"] = VERCEL_TEAM_ID
            if typ == "vercel:index/deployment:Deployment":
                deployment_id, url = vercel_deployment(name, outputs)
                extra.update({"__id": deployment_id, "url": url, "domains": []})
            return extra
        if typ.startswith("kubernetes:") and "metadata" in outputs:
            metadata = dict(outputs["metadata"] or {})
            metadata.setdefault("name", name)
            return {"__id": f"{metadata.get('namespace', 'default')}/{metadata['name']}", "metadata": metadata}
        return {}


def _sentry_number(slug: str) -> str:
    """A stable numeric id for a Sentry organization or project slug, as Sentry's API gives them."""
    return str(4500000000000000 + int(hashlib.sha256(slug.encode()).hexdigest()[:10], 16))


def _sentry_outputs(typ: str, outputs: Mapping[str, Any]) -> dict:
    """Sentry projects are addressed by slug (their id); a key's DSNs embed its public key and the project's id."""
    if typ == "sentry:index/sentryProject:SentryProject":
        slug = outputs.get("slug") or outputs.get("name", "project")
        return {"__id": slug, "slug": slug, "internalId": _sentry_number(slug), "projectId": _sentry_number(slug)}
    if typ == "sentry:index/sentryKey:SentryKey":
        project, org = outputs.get("project", "project"), outputs.get("organization", "org")
        public = hashlib.md5(f"{org}/{project}/{outputs.get('name')}".encode(), usedforsecurity=False).hexdigest()
        host, project_id = f"o{_sentry_number(org)}.ingest.sentry.io", _sentry_number(project)
        fake_secret = f"fake-{public[:12]}"
        return {"__id": public, "public": public, "secret": fake_secret, "projectId": project_id, "isActive": True,
                "dsnPublic": f"https://{public}@{host}/{project_id}",
                "dsnSecret": f"https://{public}:{fake_secret}@{host}/{project_id}",
                "dsnCsp": f"https://{host}/api/{project_id}/security/?sentry_key={public}"}
    return {}


def vercel_project_id(project_name: str) -> str:
    """A Vercel project's id (`prj_...`), the same for the project declared and the project looked up by name."""
    return f"prj_{hashlib.sha1(project_name.encode(), usedforsecurity=False).hexdigest()[:28]}"


def vercel_deployment(name: str, inputs: Mapping[str, Any]) -> tuple[str, str]:
    """A Vercel deployment's (id, url): a build is a new deployment, so both change with what it builds."""
    build = json.dumps([inputs.get(k) for k in ("projectId", "ref", "production")], default=str)
    digest = hashlib.sha1(f"{name}/{build}".encode(), usedforsecurity=False).hexdigest()
    return f"dpl_{digest[:24]}", f"{name}-{digest[:9]}-kingtavo.vercel.app"


def _arn_resource(typ: str, outputs: Mapping[str, Any], name: str) -> str:
    kind = typ.rsplit(":", 1)[-1]
    return f"{kind[0].lower()}{kind[1:]}/{outputs.get('name', name)}"




class MockAdapter:
    """Adapts KingtavoMocks to pulumi's abstract Mocks class (imported lazily to keep module import cheap)."""

    @staticmethod
    def build(region: str, stack_outputs: Mapping[str, Mapping[str, Any]] | None = None):
        from pulumi.runtime import Mocks

        inner = KingtavoMocks(region, stack_outputs)

        class Adapter(Mocks):
            def call(self, args):
                return inner.call(args)

            def new_resource(self, args):
                return inner.new_resource(args)

        return Adapter()
