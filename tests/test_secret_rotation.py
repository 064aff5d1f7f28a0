"""The PostgreSQL rotation Lambda against moto's Secrets Manager and the real PostgreSQL server.

Secrets Manager's side of a rotation is moto's: the secret's rotation is configured with
`RotateSecret`, which stages a new empty version as AWSPENDING and enables rotation, exactly as
the service does before it calls the function. moto's Docker-free Lambda backend stands in for
the Lambda service (its invocations do nothing), and the tests then call the handler with the
four step events as Lambda would. The ETL role is a real login role on the session's
PostgreSQL server, which checks passwords with SCRAM, so a rotated-away password really fails.
"""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import secrets
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

import boto3
import pg8000.native
import pytest
from moto import mock_aws

ROOT = Path(__file__).resolve().parent.parent
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
INVALID_PASSWORD = "28P01"


def load_handler():
    spec = importlib.util.spec_from_file_location("secret_rotation_handler",
                                                  ROOT / "lambdas/secret_rotation/handler.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


handler = load_handler()


@dataclass
class Rotation:
    """One secret, its database role, and a way to run steps as Secrets Manager would."""

    client: object
    arn: str
    original_version: str
    original_password: str
    role: str
    database: str
    postgres: object
    lambda_arn: str

    def start(self) -> str:
        """RotateSecret: Secrets Manager stages a new version as AWSPENDING; returns its id (the token)."""
        return self.client.rotate_secret(SecretId=self.arn, RotationLambdaARN=self.lambda_arn,
                                         RotationRules={"AutomaticallyAfterDays": 30})["VersionId"]

    def step(self, step: str, token: str) -> None:
        handler.lambda_handler({"Step": step, "SecretId": self.arn, "ClientRequestToken": token}, None)

    def rotate(self) -> str:
        token = self.start()
        for step in STEPS:
            self.step(step, token)
        return token

    def stages(self) -> dict[str, list[str]]:
        versions = self.client.describe_secret(SecretId=self.arn)["VersionIdsToStages"]
        return {version: sorted(labels) for version, labels in versions.items()}

    def value(self, stage: str, version: str | None = None) -> dict:
        request = {"SecretId": self.arn, "VersionStage": stage, **({"VersionId": version} if version else {})}
        return json.loads(self.client.get_secret_value(**request)["SecretString"])

    def login_error(self, password: str) -> str | None:
        """None when the role logs in with this password, else the SQLSTATE of the refusal."""
        kwargs = self.postgres.connect_kwargs(self.database, self.role, password)
        try:
            pg8000.native.Connection(**kwargs).close()
        except pg8000.native.DatabaseError as error:
            return error.args[0]["C"]
        return None

    def stored_verifier(self) -> str:
        """What the server stores for the role (pg_authid.rolpassword), read as the superuser."""
        connection = pg8000.native.Connection(**self.postgres.connect_kwargs())
        try:
            return connection.run("SELECT rolpassword FROM pg_authid WHERE rolname = :role", role=self.role)[0][0]
        finally:
            connection.close()

    def snapshot(self) -> tuple:
        """Everything a step may change: labels, every version's value, the role's stored verifier."""
        values = {}
        for version, labels in self.stages().items():
            try:
                values[version] = self.client.get_secret_value(SecretId=self.arn, VersionId=version,
                                                               VersionStage=labels[0])["SecretString"]
            except self.client.exceptions.ResourceNotFoundException:
                values[version] = None  # the staged, still empty version
        return self.stages(), values, self.stored_verifier()


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("SECRETS_MANAGER_ENDPOINT", raising=False)
    with mock_aws(config={"lambda": {"use_docker": False}}):
        yield


def registered_rotation_function() -> str:
    """A function in moto's Lambda, for the rotation configuration to point at (moto does not run it)."""
    role_arn = boto3.client("iam").create_role(RoleName="rotation", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(ROOT / "lambdas/secret_rotation/handler.py", "handler.py")
    return boto3.client("lambda").create_function(
        FunctionName="kingtavo-test-secret-rotation", Runtime="python3.12", Role=role_arn,
        Handler="handler.lambda_handler", Code={"ZipFile": archive.getvalue()})["FunctionArn"]


@pytest.fixture
def rotation(aws, postgres, scratch_db):
    # Upper case and a hyphen: the role name only works when the handler quotes it as an identifier.
    role = f"Etl-Rotation-{uuid.uuid4().hex[:8]}"
    password = "fake-" + secrets.token_hex(12)
    postgres.psql(f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{password}'")
    client = boto3.client("secretsmanager")
    credential = {"engine": "postgres", "host": "127.0.0.1", "port": postgres.port, "dbname": scratch_db,
                  "username": role, "password": password, "sslmode": "disable"}
    created = client.create_secret(Name=f"kingtavo/test/database-{uuid.uuid4().hex[:6]}",
                                   SecretString=json.dumps(credential))
    yield Rotation(client=client, arn=created["ARN"], original_version=created["VersionId"],
                   original_password=password, role=role, database=scratch_db, postgres=postgres,
                   lambda_arn=registered_rotation_function())
    postgres.psql(f'DROP ROLE IF EXISTS "{role}"', database="postgres")


def test_after_a_rotation_the_new_password_logs_in_and_the_old_one_does_not(rotation):
    assert rotation.login_error(rotation.original_password) is None

    token = rotation.rotate()

    current = rotation.value("AWSCURRENT")
    assert current["password"] != rotation.original_password
    assert {k: v for k, v in current.items() if k != "password"} == {
        k: v for k, v in rotation.value("AWSPREVIOUS").items() if k != "password"}
    assert rotation.login_error(current["password"]) is None
    assert rotation.login_error(rotation.original_password) == INVALID_PASSWORD
    assert rotation.stages() == {token: ["AWSCURRENT"], rotation.original_version: ["AWSPREVIOUS"]}
    assert rotation.value("AWSPREVIOUS")["password"] == rotation.original_password


def test_the_database_stores_a_scram_verifier_never_the_password(rotation):
    rotation.rotate()

    verifier = rotation.stored_verifier()
    assert verifier.startswith("SCRAM-SHA-256$4096:")
    assert rotation.value("AWSCURRENT")["password"] not in verifier


def test_a_second_rotation_moves_previous_along(rotation):
    first = rotation.rotate()
    first_password = rotation.value("AWSCURRENT")["password"]

    second = rotation.rotate()

    assert rotation.stages() == {second: ["AWSCURRENT"], first: ["AWSPREVIOUS"], rotation.original_version: []}
    assert rotation.login_error(rotation.value("AWSCURRENT")["password"]) is None
    assert rotation.login_error(first_password) == INVALID_PASSWORD
    assert rotation.login_error(rotation.original_password) == INVALID_PASSWORD


@pytest.mark.parametrize("repeated", STEPS)
def test_running_a_step_twice_changes_nothing(rotation, repeated):
    token = rotation.start()
    for step in STEPS:
        rotation.step(step, token)
        if step == repeated:
            before = rotation.snapshot()
            rotation.step(step, token)
            assert rotation.snapshot() == before
    assert rotation.stages()[token] == ["AWSCURRENT"]
    assert rotation.login_error(rotation.value("AWSCURRENT")["password"]) is None


def test_the_whole_rotation_run_again_with_the_same_token_changes_nothing(rotation):
    token = rotation.rotate()
    before = rotation.snapshot()

    for step in STEPS:
        rotation.step(step, token)

    assert rotation.snapshot() == before


def test_a_failure_in_set_secret_leaves_awscurrent_working_and_a_retry_completes(rotation):
    # The database refuses the change: every session of the role is read-only, so ALTER ROLE fails.
    rotation.postgres.psql(f'ALTER ROLE "{rotation.role}" SET default_transaction_read_only = on')
    token = rotation.start()
    rotation.step("createSecret", token)
    pending_password = rotation.value("AWSPENDING", token)["password"]

    with pytest.raises(handler.RotationError, match="read-only transaction") as refused:
        rotation.step("setSecret", token)
    with pytest.raises(handler.RotationError, match="does not log in"):
        rotation.step("testSecret", token)

    assert rotation.stages() == {rotation.original_version: ["AWSCURRENT"], token: ["AWSPENDING"]}
    assert rotation.value("AWSCURRENT")["password"] == rotation.original_password
    assert rotation.login_error(rotation.original_password) is None
    assert rotation.login_error(pending_password) == INVALID_PASSWORD
    assert pending_password not in str(refused.value)
    assert rotation.original_password not in str(refused.value)

    # Once the database accepts changes again, Secrets Manager's retry with the same token completes.
    rotation.postgres.psql(f'ALTER ROLE "{rotation.role}" RESET default_transaction_read_only')
    for step in STEPS:
        rotation.step(step, token)
    assert rotation.stages() == {token: ["AWSCURRENT"], rotation.original_version: ["AWSPREVIOUS"]}
    assert rotation.value("AWSCURRENT")["password"] == pending_password
    assert rotation.login_error(pending_password) is None
    assert rotation.login_error(rotation.original_password) == INVALID_PASSWORD


def test_set_secret_refuses_a_pending_version_for_another_role(rotation):
    token = rotation.start()
    rotation.step("createSecret", token)
    tampered = {**rotation.value("AWSPENDING", token), "username": "postgres"}
    rotation.client.put_secret_value(SecretId=rotation.arn, ClientRequestToken=token,
                                     SecretString=json.dumps(tampered), VersionStages=["AWSPENDING"])
    verifier = rotation.stored_verifier()

    with pytest.raises(handler.RotationError, match="different roles or servers"):
        rotation.step("setSecret", token)

    assert rotation.stored_verifier() == verifier
    assert rotation.login_error(rotation.original_password) is None
    assert rotation.stages()[rotation.original_version] == ["AWSCURRENT"]


def test_set_secret_falls_back_to_the_previous_password(rotation):
    """A rotation that died after finishSecret's label move but before the database change recovers."""
    first = rotation.rotate()
    first_password = rotation.value("AWSCURRENT")["password"]
    second = rotation.start()
    rotation.step("createSecret", second)
    # The database went back to the AWSPREVIOUS password (say, a restore): current no longer logs in.
    rotation.postgres.psql(f"ALTER ROLE \"{rotation.role}\" PASSWORD '{rotation.original_password}'")
    assert rotation.login_error(first_password) == INVALID_PASSWORD

    for step in ("setSecret", "testSecret", "finishSecret"):
        rotation.step(step, second)

    assert rotation.stages()[second] == ["AWSCURRENT"]
    assert rotation.stages()[first] == ["AWSPREVIOUS"]
    assert rotation.login_error(rotation.value("AWSCURRENT")["password"]) is None


def test_steps_refuse_a_secret_without_rotation(aws):
    client = boto3.client("secretsmanager")
    created = client.create_secret(Name="kingtavo/test/not-rotated", SecretString=json.dumps({"engine": "postgres"}))
    event = {"Step": "createSecret", "SecretId": created["ARN"], "ClientRequestToken": str(uuid.uuid4())}

    with pytest.raises(handler.RotationError, match="not enabled for rotation"):
        handler.lambda_handler(event, None)


def test_steps_refuse_a_token_that_is_not_staged(rotation):
    rotation.rotate()  # the original version now carries only AWSPREVIOUS

    with pytest.raises(handler.RotationError, match="has no stage for rotation"):
        rotation.step("createSecret", str(uuid.uuid4()))
    with pytest.raises(handler.RotationError, match="not set as AWSPENDING"):
        rotation.step("setSecret", rotation.original_version)


def test_an_unknown_step_is_refused_before_anything_is_touched(rotation):
    token = rotation.start()
    before = rotation.snapshot()

    with pytest.raises(handler.RotationError, match="unknown rotation step"):
        rotation.step("dropSecret", token)

    assert rotation.snapshot() == before


def test_no_password_reaches_the_logs(rotation, caplog):
    caplog.set_level(logging.INFO)

    rotation.rotate()

    new_password = rotation.value("AWSCURRENT")["password"]
    assert "finishSecret" in caplog.text
    assert rotation.original_password not in caplog.text
    assert new_password not in caplog.text


def test_without_sslmode_the_function_insists_on_tls(rotation):
    """The default is `require`: against a server without TLS the rotation fails, it never falls back to plain TCP."""
    plain = {k: v for k, v in rotation.value("AWSCURRENT").items() if k != "sslmode"}
    rotation.client.update_secret(SecretId=rotation.arn, SecretString=json.dumps(plain))
    current_version = next(v for v, s in rotation.stages().items() if "AWSCURRENT" in s)
    token = rotation.start()
    rotation.step("createSecret", token)
    verifier = rotation.stored_verifier()

    with pytest.raises(handler.RotationError, match="cannot log in"):
        rotation.step("setSecret", token)

    assert rotation.stored_verifier() == verifier
    assert rotation.stages()[current_version] == ["AWSCURRENT"]


def test_the_endpoint_comes_from_the_environment(aws, monkeypatch):
    endpoint = "https://secretsmanager.eu-west-1.amazonaws.com"
    monkeypatch.setenv("SECRETS_MANAGER_ENDPOINT", endpoint)

    assert handler.secrets_client().meta.endpoint_url == endpoint
