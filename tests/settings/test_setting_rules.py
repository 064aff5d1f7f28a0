"""Table-driven: every undeployable or dangerous setting is refused by the whole offline plan, key named.

Each bad case is (stack, edits, the key the message must name). It runs twice: through the harness
(`run_stack` raises `SettingsError` and has registered nothing) and through `python -m tools.plan`'s
entry point (exit code 2, the key on stderr). The valid edge cases must plan.

Stacks are taken from the environment table: PROD is the one with production minimums, STAGE the other.
Secret-shaped test values are generated here at run time, never written in this file.
"""

from __future__ import annotations

import base64
import json
import secrets

import pytest

from components.core.environments import ENVIRONMENTS
from components.core.settings import SettingsError
from tools import plan as plan_tool
from tools.harness import run_stack

PROD = next(name for name, env in ENVIRONMENTS.items() if env.minimums.point_in_time_recovery)
STAGE = next(name for name, env in ENVIRONMENTS.items() if not env.minimums.point_in_time_recovery)
STAGE_REF, PROD_REF = "stagingrefplaceholdr", "productionrefplacehd"


def _b64(data: bytes, pad: bool) -> str:
    encoded = base64.urlsafe_b64encode(data).decode()
    return encoded if pad else encoded.rstrip("=")


def jwt(role: str, ref: str = STAGE_REF, pad: bool = False) -> str:
    """A fake Supabase-style JWT (random signature); `pad` keeps base64 padding on the payload."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode(), pad)
    claims = {"iss": "supabase", "ref": ref, "role": role, "iat": 1700000000, "exp": 2000000000}
    for extra in range(3):  # grow the payload until base64 needs padding, so `pad` is really exercised
        body = json.dumps({**claims, "x": "y" * extra}).encode()
        if len(body) % 3:
            break
    token = f"{header}.{_b64(body, pad)}.{_b64(secrets.token_bytes(32), False)}"
    assert ("=" in token) == pad
    return token


def fake_stripe_key() -> str:
    return "sk_" + "live_" + secrets.token_hex(12)


def fake_url_with_password() -> str:
    return f"postgres://etl:{secrets.token_hex(10)}@db.example.com:5432/postgres"


# (stack, edits, key the message must name)
BAD: list[tuple[str, list[str], str]] = [
    # network: AWS allows VPCs of /16 to /28; azCount is bounded by the region's zones
    (STAGE, ["network.cidr=10.0.0.0/8"], "kingtavo:network.cidr"),
    (STAGE, ["network.cidr=0.0.0.0/0"], "kingtavo:network.cidr"),
    (STAGE, ["network.cidr=10.0.0.0/29"], "kingtavo:network.cidr"),
    (STAGE, ["network.cidr=8.8.0.0/16"], "kingtavo:network.cidr"),
    (STAGE, ["network.azCount=4"], "kingtavo:network.azCount"),
    (PROD, ["aws:region=us-west-1"], "kingtavo:network.azCount"),
    (STAGE, ["aws:region=mars-north-1"], "aws:region"),
    (STAGE, ["aws:region=~"], "aws:region"),
    (STAGE, ["network.azCount=2.0"], "kingtavo:network.azCount"),
    (STAGE, ["network.azCount='2'"], "kingtavo:network.azCount"),
    (STAGE, ["network.subnetPrefixLength=true"], "kingtavo:network.subnetPrefixLength"),
    (STAGE, ["network.flowLogRetentionDays=30.5"], "kingtavo:network.flowLogRetentionDays"),
    # cluster: the public endpoint, EKS versions, name lists
    (STAGE, ["cluster.publicAccessCidrs=[0.0.0.0/1, 128.0.0.0/1]"], "kingtavo:cluster.publicAccessCidrs"),
    (STAGE, ["cluster.publicAccessCidrs=[12.0.0.0/7]"], "kingtavo:cluster.publicAccessCidrs"),
    (PROD, ["cluster.publicAccessCidrs=[1.0.0.0/8, 2.0.0.0/8]"], "kingtavo:cluster.publicAccessCidrs"),
    (STAGE, ["cluster.publicAccessCidrs=[203.0.113.0/24, 203.0.113.0/24]"], "kingtavo:cluster.publicAccessCidrs"),
    (STAGE, ["cluster.kubernetesVersion='1.31'"], "kingtavo:cluster.kubernetesVersion"),
    (STAGE, ["cluster.kubernetesVersion='1.99'"], "kingtavo:cluster.kubernetesVersion"),
    (PROD, ["cluster.kubernetesVersion='1.28'"], "kingtavo:cluster.kubernetesVersion"),
    (STAGE, ["cluster.nodeInstanceTypes=[t3.large, t3.large]"], "kingtavo:cluster.nodeInstanceTypes"),
    (STAGE, ["cluster.nodeInstanceTypes=[T3.large]"], "kingtavo:cluster.nodeInstanceTypes.0"),
    (STAGE, ["cluster.nodeMinSize='1'"], "kingtavo:cluster.nodeMinSize"),
    (STAGE, ["cluster.nodeDiskSizeGb='yes'"], "kingtavo:cluster.nodeDiskSizeGb"),
    # etl: namespaces others own, requests above limits, names the program sets, production minimums
    *[(STAGE, [f"etl.namespace={ns}"], "kingtavo:etl.namespace")
      for ns in ("kube-system", "default", "kube-public", "kube-node-lease", "external-secrets", "monitoring",
                 "db-backup")],
    (STAGE, ["etl.cpuRequest='2'"], "kingtavo:etl.cpuRequest"),
    (STAGE, ["etl.cpuRequest=1500m"], "kingtavo:etl.cpuRequest"),
    (STAGE, ["etl.memoryRequest=1Gi"], "kingtavo:etl.memoryRequest"),
    (PROD, ["etl.memoryRequest=2048Mi"], "kingtavo:etl.memoryRequest"),
    (STAGE, ["etl.apiKeyNames=[PGPASSWORD]"], "kingtavo:etl.apiKeyNames"),
    (STAGE, ["etl.apiKeyNames=[DATABASE]"], "kingtavo:etl.apiKeyNames"),
    (STAGE, ["etl.apiKeyNames=[PGSSLMODE]"], "kingtavo:etl.apiKeyNames"),
    (STAGE, ["etl.apiKeyNames=[PORT]"], "kingtavo:etl.apiKeyNames"),
    (STAGE, ["etl.apiKeyNames=[SENTRY_DSN]"], "kingtavo:etl.apiKeyNames"),
    (PROD, ["etl.apiKeyNames=[AWS_ROLE_ARN]"], "kingtavo:etl.apiKeyNames"),
    (STAGE, ["etl.apiKeyNames=[STRIPE_API_KEY, STRIPE_API_KEY]"], "kingtavo:etl.apiKeyNames"),
    (PROD, ["etl.replicas=1"], "kingtavo:etl.replicas"),
    (PROD, ["etl.idleReplicas=0"], "kingtavo:etl.idleReplicas"),
    (STAGE, ["etl.replicas='2'"], "kingtavo:etl.replicas"),
    (STAGE, ["etl.databaseUser=etl.otherprojectrefabcde"], "kingtavo:etl.databaseUser"),
    (STAGE, ["etl.databaseUser=Etl"], "kingtavo:etl.databaseUser"),
    (STAGE, ["etl.databaseUser=etl.short"], "kingtavo:etl.databaseUser"),
    # frontend: secrets in public variables (by name or by value), names Vercel or the program own
    (STAGE, [f"frontend.publicEnv.NEXT_PUBLIC_CHECKOUT_CONFIG={fake_stripe_key()}"],
     "kingtavo:frontend.publicEnv.NEXT_PUBLIC_CHECKOUT_CONFIG"),
    (PROD, [f"frontend.publicEnv.NEXT_PUBLIC_DB_URL={fake_url_with_password()}"],
     "kingtavo:frontend.publicEnv.NEXT_PUBLIC_DB_URL"),
    (STAGE, ["frontend.publicEnv.DATABASE_PASSWORD=hunter"], "kingtavo:frontend.publicEnv.DATABASE_PASSWORD"),
    (STAGE, ["frontend.publicEnv.VERCEL_URL=https://x.example.com"], "kingtavo:frontend.publicEnv.VERCEL_URL"),
    (STAGE, ["frontend.publicEnv.TZ=UTC"], "kingtavo:frontend.publicEnv.TZ"),
    (STAGE, ["frontend.publicEnv.NEXT_PUBLIC_SUPABASE_ANON_KEY=x"],
     "kingtavo:frontend.publicEnv.NEXT_PUBLIC_SUPABASE_ANON_KEY"),
    (STAGE, ["frontend.serverSecretNames=[STRIPE_SECRET_KEY, STRIPE_SECRET_KEY]"],
     "kingtavo:frontend.serverSecretNames"),
    (STAGE, ["frontend.serverSecretNames=[AWS_LAMBDA_FUNCTION_NAME]"], "kingtavo:frontend.serverSecretNames"),
    (STAGE, ["frontend.rootDirectory=../web"], "kingtavo:frontend.rootDirectory"),
    (STAGE, ["frontend.productionBranch=bad..ref"], "kingtavo:frontend.productionBranch"),
    # supabase: the anon key must be the anon key, the API Supabase's, the URL the project's
    (STAGE, [f"supabase.anonKey={jwt('service_role')}"], "kingtavo:supabase.anonKey"),
    (PROD, [f"supabase.anonKey={jwt('service_role', PROD_REF, pad=True)}"], "kingtavo:supabase.anonKey"),
    (STAGE, ["supabase.anonKey=sb_secret_" + secrets.token_hex(16)], "kingtavo:supabase.anonKey"),
    (STAGE, ["supabase.anonKey=not-a-key"], "kingtavo:supabase.anonKey"),
    (STAGE, [f"supabase.anonKey={jwt('anon', 'otherprojectrefabcde')}"], "kingtavo:supabase.anonKey"),
    (STAGE, ["supabase.apiUrl=https://api.supabase.com.evil.example"], "kingtavo:supabase.apiUrl"),
    (PROD, ["supabase.apiUrl=https://attacker.example"], "kingtavo:supabase.apiUrl"),
    (STAGE, ["supabase.url=https://otherprojectrefabcde.supabase.co"], "kingtavo:supabase.url"),
    (STAGE, [f"supabase.url=https://{STAGE_REF}.supabase.co.evil.example"], "kingtavo:supabase.url"),
    (STAGE, ["supabase.edgeFunctionSecretNames=[OPENAI_API_KEY, OPENAI_API_KEY]"],
     "kingtavo:supabase.edgeFunctionSecretNames"),
    (STAGE, ["supabase.databasePort='5432'"], "kingtavo:supabase.databasePort"),
    (PROD, ["supabase.databaseHost=db.otherprojectrefabcde.supabase.co"], "kingtavo:supabase.databaseHost"),
    # backups: cron schedules as a Kubernetes CronJob takes them; strict booleans and numbers
    (STAGE, ["backups.dumpSchedule='99 99 * * *'"], "kingtavo:backups.dumpSchedule"),
    (STAGE, ["backups.dumpSchedule='0 3 * *'"], "kingtavo:backups.dumpSchedule"),
    (STAGE, ["backups.dumpSchedule='0 0 3 * * *'"], "kingtavo:backups.dumpSchedule"),
    (STAGE, ["backups.dumpSchedule='CRON_TZ=UTC 0 3 * * *'"], "kingtavo:backups.dumpSchedule"),
    (PROD, ["backups.dumpSchedule='0 25 * * *'"], "kingtavo:backups.dumpSchedule"),
    (STAGE, ["backups.pointInTimeRecovery='yes'"], "kingtavo:backups.pointInTimeRecovery"),
    (PROD, ["backups.pointInTimeRecovery='true'"], "kingtavo:backups.pointInTimeRecovery"),
    (PROD, ["backups.dailyRetention='7'"], "kingtavo:backups.dailyRetention"),
    # secrets given in plaintext in the stack file
    (STAGE, ["slackWebhookUrl=https://hooks.example.invalid/plain"], "kingtavo:slackWebhookUrl"),
    (STAGE, ["etlApiKeys={STRIPE_API_KEY: fake-plain-a, OPENAI_API_KEY: fake-plain-b}"], "kingtavo:etlApiKeys"),
    (PROD, ["sentryAuthToken=plain"], "kingtavo:sentryAuthToken"),
    (STAGE, ["vercel:apiToken=plain"], "vercel:apiToken"),
    (PROD, ["aws:secretKey=plain"], "aws:secretKey"),
    # unknown keys in every namespace
    (STAGE, ["vercel:teem=kingtavo"], "vercel:teem"),
    (STAGE, ["aws:regoin=eu-central-1"], "aws:regoin"),
    (STAGE, ["kubernetes:kubeconfg=x"], "kubernetes:kubeconfg"),
    (STAGE, ["sentry:baseUrll=https://sentry.io"], "sentry:baseUrll"),
    (STAGE, ["vercell:team=kingtavo"], "vercell:team"),
    (PROD, ["etlApiKey={}"], "kingtavo:etlApiKey"),
    # strict numbers elsewhere
    (STAGE, ["sentry.errorBurstCount=true"], "kingtavo:sentry.errorBurstCount"),
    (STAGE, ["logs.vercelDrainSamplingRate=true"], "kingtavo:logs.vercelDrainSamplingRate"),
    (STAGE, ["sentry.errorRateThresholdPercent=lots"], "kingtavo:sentry.errorRateThresholdPercent"),
]

# (stack, edits) that must plan: the edges of the rules above.
VALID: list[tuple[str, list[str]]] = [
    (STAGE, [f"etl.databaseUser=etl.{STAGE_REF}"]),  # Supabase's pooler user
    (PROD, [f"etl.databaseUser=etl.{PROD_REF}", "supabase.databaseHost=aws-0-eu-central-1.pooler.supabase.com",
            "supabase.databasePort=6543"]),
    (STAGE, ["cluster.publicAccessCidrs=[1.0.0.0/8]"]),  # exactly a /8
    (STAGE, ["cluster.publicAccessCidrs=[]"]),  # private endpoint only
    (STAGE, ["backups.dumpSchedule='@daily'"]),
    (PROD, ["backups.dumpSchedule='*/15 2-4 * * mon-fri'"]),
    (STAGE, ["network.cidr=192.168.0.0/20", "network.subnetPrefixLength=24"]),
    (STAGE, ["network.azCount=3"]),  # exactly the region's zones
    (STAGE, ["etl.cpuRequest='1'", "etl.memoryRequest=512Mi"]),  # request == limit
    (STAGE, [f"supabase.anonKey={jwt('anon', pad=True)}"]),
    (PROD, [f"supabase.anonKey={jwt('anon', PROD_REF)}"]),
    (STAGE, ["sentry.errorRateThresholdPercent='2.5'"]),  # `pulumi config set --path` stores it as a string
    (PROD, ["etl.idleReplicas=1"]),  # the warm minimum
    (PROD, ["cluster.kubernetesVersion='1.35'"]),
    (STAGE, ["pulumi:tags={team: platform}"]),
    (STAGE, ["etl.apiKeyNames=[STRIPE_API_KEY, OPENAI_API_KEY, DATABASE_READONLY_TOKEN]"]),
]


def _id(index: int, case: tuple) -> str:
    """The stack and the keys it edits, never the values: some are generated fake secrets, and the ids must be
    the same in every pytest-xdist worker."""
    return f"{index:02d}-{case[0]}:{','.join(edit.split('=', 1)[0] for edit in case[1])}"


@pytest.mark.parametrize(("stack", "edits", "key"), BAD, ids=[_id(i, c) for i, c in enumerate(BAD)])
def test_bad_setting_is_refused_by_the_plan_with_the_key_named(stack, edits, key, capsys):
    with pytest.raises(SettingsError) as caught:
        run_stack(stack, edits)
    problems = caught.value.problems
    assert any(problem.startswith(f"{key}: ") for problem in problems), problems
    assert caught.value.registered_resources == []
    assert "Traceback" not in str(caught.value)

    code = plan_tool.main(["--stack", stack, *(arg for edit in edits for arg in ("--set", edit))])
    stderr = capsys.readouterr().err
    assert code == 2
    assert f"{key}: " in stderr


@pytest.mark.parametrize(("stack", "edits"), VALID, ids=[_id(i, c) for i, c in enumerate(VALID)])
def test_valid_edge_case_plans(stack, edits):
    result = run_stack(stack, edits)
    assert any(r.type == "aws:eks/cluster:Cluster" for r in result.resources)


def test_there_are_enough_cases():
    assert len(BAD) >= 60 and len(VALID) >= 10
    assert len({(s, tuple(e)) for s, e, _ in BAD}) == len(BAD), "a bad case is listed twice"


def test_secret_values_are_never_echoed():
    key = fake_stripe_key()
    token = jwt("service_role")
    with pytest.raises(SettingsError) as caught:
        run_stack(STAGE, [f"frontend.publicEnv.NEXT_PUBLIC_CHECKOUT_CONFIG={key}", f"supabase.anonKey={token}",
                          "slackWebhookUrl=https://hooks.example.invalid/plain-value-not-shown"])
    text = str(caught.value)
    assert key not in text and token not in text and "plain-value-not-shown" not in text
    assert len(caught.value.problems) == 3


def test_every_problem_is_reported_at_once():
    edits = ["network.cidr=10.0.0.0/8", "etl.namespace=kube-system", "backups.dumpSchedule='99 99 * * *'",
             "vercel:teem=kingtavo", "etl.apiKeyNames=[PGPASSWORD]", "supabase.apiUrl=https://attacker.example"]
    with pytest.raises(SettingsError) as caught:
        run_stack(STAGE, edits)
    keys = {problem.split(": ", 1)[0] for problem in caught.value.problems}
    assert keys == {"kingtavo:network.cidr", "kingtavo:etl.namespace", "kingtavo:backups.dumpSchedule", "vercel:teem",
                    "kingtavo:etl.apiKeyNames", "kingtavo:supabase.apiUrl"}
