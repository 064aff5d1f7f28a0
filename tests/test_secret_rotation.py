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
import sys
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

import boto3
import pg8000.native
import pytest
from moto import mock_aws

from tests.support.postgres import running_postgres
from tests.support.tls import enable_tls, issue_server_cert, make_ca

ROOT = Path(__file__).resolve().parent.parent
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
INVALID_PASSWORD = "28P01"


def load_handler():
    sys.path.insert(0, str(ROOT / "lambdas/secret_rotation"))  # its siblings, as in the zip
    try:
        spec = importlib.util.spec_from_file_location("secret_rotation_handler",
                                                      ROOT / "lambdas/secret_rotation/handler.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(ROOT / "lambdas/secret_rotation"))


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


def new_rotation(postgres, database: str, **connection) -> Rotation:
    """A login role on `postgres` and its secret in moto; `connection` overrides host and sslmode."""
    # Upper case and a hyphen: the role name only works when the handler quotes it as an identifier.
    role = f"Etl-Rotation-{uuid.uuid4().hex[:8]}"
    password = "fake-" + secrets.token_hex(12)
    postgres.psql(f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{password}'")
    client = boto3.client("secretsmanager")
    credential = {"engine": "postgres", "host": "127.0.0.1", "port": postgres.port, "dbname": database,
                  "username": role, "password": password, "sslmode": "disable", **connection}
    credential = {key: value for key, value in credential.items() if value is not None}
    created = client.create_secret(Name=f"kingtavo/test/database-{uuid.uuid4().hex[:6]}",
                                   SecretString=json.dumps(credential))
    return Rotation(client=client, arn=created["ARN"], original_version=created["VersionId"],
                    original_password=password, role=role, database=database, postgres=postgres,
                    lambda_arn=registered_rotation_function())


@pytest.fixture
def rotation(aws, postgres, scratch_db):
    made = new_rotation(postgres, scratch_db)
    yield made
    postgres.psql(f'DROP ROLE IF EXISTS "{made.role}"', database="postgres")


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


def test_without_sslmode_the_function_insists_on_tls(rotation, monkeypatch, tmp_path):
    """The default is `verify-full`: against a server without TLS the rotation fails, never falling back to TCP."""
    ca_file = tmp_path / "ca.crt"
    ca_file.write_bytes(make_ca().cert_pem)
    monkeypatch.setenv("DATABASE_CA_FILE", str(ca_file))
    plain = {k: v for k, v in rotation.value("AWSCURRENT").items() if k != "sslmode"}
    rotation.client.update_secret(SecretId=rotation.arn, SecretString=json.dumps(plain))
    current_version = next(v for v, s in rotation.stages().items() if "AWSCURRENT" in s)
    token = rotation.start()
    rotation.step("createSecret", token)
    verifier = rotation.stored_verifier()

    with pytest.raises(handler.RotationError, match="refuses TLS"):
        rotation.step("setSecret", token)

    assert rotation.stored_verifier() == verifier
    assert rotation.stages()[current_version] == ["AWSCURRENT"]


def test_the_endpoint_comes_from_the_environment(aws, monkeypatch):
    endpoint = "https://secretsmanager.eu-west-1.amazonaws.com"
    monkeypatch.setenv("SECRETS_MANAGER_ENDPOINT", endpoint)

    assert handler.secrets_client().meta.endpoint_url == endpoint


# --- hardening (issue 19): the server certificate is verified; a broken AWSPENDING does not stick ----------------


@dataclass
class TlsServer:
    postgres: object
    ca: object  # tests.support.tls.Issued


@pytest.fixture(scope="module")
def tls_server():
    """A PostgreSQL server of its own with ssl = on, its certificate issued for `localhost` by a CA made here."""
    ca = make_ca("kingtavo test database CA")
    with running_postgres() as server:
        enable_tls(server, issue_server_cert(ca, ["localhost"]))
        yield TlsServer(server, ca)


def trust(monkeypatch, tmp_path, pem: bytes) -> Path:
    path = tmp_path / f"ca-{uuid.uuid4().hex[:6]}.crt"
    path.write_bytes(pem)
    monkeypatch.setenv("DATABASE_CA_FILE", str(path))
    return path


@pytest.fixture
def tls_rotation(aws, tls_server, monkeypatch, tmp_path):
    """A rotation against the TLS server, the secret without `sslmode` (so the default applies)."""
    database = tls_server.postgres.create_database()
    made = new_rotation(tls_server.postgres, database, host="localhost", sslmode=None)
    trust(monkeypatch, tmp_path, tls_server.ca.cert_pem)
    yield made
    tls_server.postgres.drop_database(database)
    tls_server.postgres.psql(f'DROP ROLE IF EXISTS "{made.role}"')


def test_by_default_the_rotation_verifies_the_server_certificate_and_completes(tls_rotation):
    assert "sslmode" not in tls_rotation.value("AWSCURRENT")
    assert handler.ssl_context_for(tls_rotation.value("AWSCURRENT")).verify_mode == handler.ssl.CERT_REQUIRED

    token = tls_rotation.rotate()

    assert tls_rotation.stages()[token] == ["AWSCURRENT"]
    assert tls_rotation.login_error(tls_rotation.value("AWSCURRENT")["password"]) is None
    assert tls_rotation.login_error(tls_rotation.original_password) == INVALID_PASSWORD


def assert_nothing_changed(rotation: Rotation, verifier: str) -> None:
    assert rotation.stored_verifier() == verifier
    assert rotation.stages()[rotation.original_version] == ["AWSCURRENT"]
    assert rotation.login_error(rotation.original_password) is None


def test_a_server_certificate_from_another_ca_is_refused_before_any_password_is_sent(tls_rotation, monkeypatch,
                                                                                      tmp_path):
    bundle = trust(monkeypatch, tmp_path, make_ca("someone else's CA").cert_pem)
    token = tls_rotation.start()
    tls_rotation.step("createSecret", token)
    verifier = tls_rotation.stored_verifier()

    with pytest.raises(handler.RotationError, match="does not verify against the CA bundle") as refused:
        tls_rotation.step("setSecret", token)

    assert str(bundle) in str(refused.value) and "localhost" in str(refused.value)
    assert_nothing_changed(tls_rotation, verifier)


def test_a_certificate_for_another_host_name_is_refused(tls_rotation):
    """verify-full, not verify-ca: the certificate names `localhost`, the secret says 127.0.0.1."""
    elsewhere = {**tls_rotation.value("AWSCURRENT"), "host": "127.0.0.1"}
    tls_rotation.client.update_secret(SecretId=tls_rotation.arn, SecretString=json.dumps(elsewhere))
    verifier = tls_rotation.stored_verifier()
    token = tls_rotation.start()
    tls_rotation.step("createSecret", token)

    with pytest.raises(handler.RotationError, match="mismatch"):
        tls_rotation.step("setSecret", token)

    assert tls_rotation.stored_verifier() == verifier


def test_the_default_ca_bundle_is_the_file_shipped_in_the_package(monkeypatch):
    monkeypatch.delenv("DATABASE_CA_FILE", raising=False)

    assert handler.ca_bundle_path() == ROOT / "lambdas/secret_rotation/certs/prod-ca-2021.crt"
    assert handler.ca_bundle_path().is_file()


@pytest.mark.parametrize("bundle", ["placeholder", "missing", "garbage"])
def test_a_ca_bundle_without_a_usable_certificate_stops_the_rotation_naming_the_file(tls_rotation, monkeypatch,
                                                                                     tmp_path, bundle):
    path = tmp_path / "prod-ca-2021.crt"
    if bundle == "placeholder":
        path.write_text((ROOT / "lambdas/secret_rotation/certs/prod-ca-2021.crt").read_text().replace(
            "-----BEGIN CERTIFICATE-----", ""))
    elif bundle == "garbage":
        path.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    monkeypatch.setenv("DATABASE_CA_FILE", str(path))
    token = tls_rotation.start()
    tls_rotation.step("createSecret", token)
    verifier = tls_rotation.stored_verifier()

    with pytest.raises(handler.RotationError, match="CA bundle") as refused:
        tls_rotation.step("setSecret", token)

    assert str(path) in str(refused.value)
    assert_nothing_changed(tls_rotation, verifier)


def test_sslmode_require_still_connects_without_verifying_and_says_so(tls_rotation, monkeypatch, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    trust(monkeypatch, tmp_path, make_ca("someone else's CA").cert_pem)  # not consulted with require
    unverified = {**tls_rotation.value("AWSCURRENT"), "sslmode": "require"}
    tls_rotation.client.update_secret(SecretId=tls_rotation.arn, SecretString=json.dumps(unverified))

    token = tls_rotation.rotate()

    assert tls_rotation.stages()[token] == ["AWSCURRENT"]
    assert "the server certificate is not verified" in caplog.text


@pytest.mark.parametrize("broken", [
    {"engine": "postgres", "host": "127.0.0.1", "username": "etl"},
    {"engine": "postgres", "host": "127.0.0.1", "username": "etl", "password": ""},
    "not json {",
])
@pytest.mark.parametrize("step", ["createSecret", "setSecret", "testSecret"])
def test_an_awspending_version_without_a_password_is_unstaged_so_rotation_is_not_stuck(rotation, broken, step):
    token = rotation.start()
    rotation.client.put_secret_value(SecretId=rotation.arn, ClientRequestToken=token,
                                     SecretString=broken if isinstance(broken, str) else json.dumps(broken),
                                     VersionStages=["AWSPENDING"])
    verifier = rotation.stored_verifier()

    with pytest.raises(handler.RotationError, match="took AWSPENDING off") as refused:
        rotation.step(step, token)

    # AWS starts no new rotation while AWSPENDING sits on a version that is not AWSCURRENT: it is gone.
    assert [v for v, stages in rotation.stages().items() if "AWSPENDING" in stages] == []
    assert rotation.stages()[rotation.original_version] == ["AWSCURRENT"]
    assert rotation.stored_verifier() == verifier
    assert rotation.arn in str(refused.value) and rotation.original_password not in str(refused.value)
    # Secrets Manager's retries of that token stop at the guard; the next rotation completes.
    with pytest.raises(handler.RotationError, match="not set as AWSPENDING"):
        rotation.step("setSecret", token)
    fresh = rotation.rotate()
    assert rotation.stages()[fresh] == ["AWSCURRENT"]
    assert rotation.login_error(rotation.value("AWSCURRENT")["password"]) is None


@pytest.mark.parametrize(("username", "role"), [
    ("etl.abcdefghijklmnopqrst", "etl"), ("db_backup.abcdefghijklmnopqrst", "db_backup"), ("etl", "etl"),
    ("etl.short", "etl.short"), ("etl.ABCDEFGHIJKLMNOPQRST", "etl.ABCDEFGHIJKLMNOPQRST"),
])
def test_a_pooler_login_names_its_role(username, role):
    """Through Supabase's pooler the ETL logs in as `etl.<ref>`; ALTER ROLE must name the role `etl`."""
    assert handler.role_of(username) == role
