"""Secret rotation: rotates the ETL service's PostgreSQL password held in AWS Secrets Manager.

Secrets Manager calls this function four times per rotation, once per step, with the event
`{"Step", "SecretId", "ClientRequestToken"}`; the token is the id of the new secret version.
The steps follow AWS's single-user rotation template for PostgreSQL (the role changes its own
password, so no separate administrator credential exists anywhere):

- `createSecret`: copies AWSCURRENT with a new password from `GetRandomPassword` into the
  token's version, labelled AWSPENDING. Does nothing when that version already has a usable value.
  A pending version whose value is unusable (not JSON, no password, a field missing) cannot be
  rewritten (a version's value is immutable) and would fail every retry, and while AWSPENDING sits
  on it Secrets Manager refuses to start another rotation: the step takes AWSPENDING off that
  version and fails, so the next rotation (scheduled, or `aws secretsmanager rotate-secret`)
  starts afresh with a new version. setSecret and testSecret do the same on such a version.
- `setSecret`: logs in with the pending password; if that works, the database already has it
  and nothing is done. Otherwise logs in with the current (else the previous) password and
  runs `ALTER ROLE <role> WITH PASSWORD <SCRAM verifier>`.
- `testSecret`: logs in with the pending password and runs a query.
- `finishSecret`: moves AWSCURRENT to the token's version (Secrets Manager moves AWSPREVIOUS to
  the old one by itself) and takes AWSPENDING off it. Does nothing when it is already current.

Every step first checks that rotation is enabled and that the token's version is staged
AWSPENDING (or already AWSCURRENT, in which case the step is a no-op), so each step is safe to
retry. A failure in any step leaves AWSCURRENT where it was: the ETL keeps working with the
current password, and Secrets Manager retries the rotation.

The secret is JSON in the shape AWS's rotation functions use:
`{"engine": "postgres", "host", "port", "dbname", "username", "password"}`, plus an optional
`"sslmode"` with libpq's meaning:

- `verify-full` (default): TLS, the server certificate must chain to the CA bundle (and only to
  it, not to the system CAs) and name the host. The bundle is `DATABASE_CA_FILE`, else the file
  shipped in the package, `certs/prod-ca-2021.crt`: Supabase's root CA (Dashboard > Database
  settings > SSL configuration). Without a certificate in the bundle no step connects.
- `require`: TLS without checking the certificate (an interceptor could read ALTER ROLE): only
  for a server without a verifiable certificate; every connection logs a warning.
- `disable`: plain TCP, for a local test database only.

A certificate that does not verify, or a server that refuses TLS, fails the step at once with a
message naming the host and the reason; it is never taken for a wrong password.

No secret reaches a log line or an exception message: logs name the secret's ARN, the step and
the version id, never a password. The password is never sent to the database in clear either:
the function computes the SCRAM-SHA-256 verifier itself (as `psql`'s `\\password` does), so a
server that logs DDL statements logs only the verifier.

Environment:

- `SECRETS_MANAGER_ENDPOINT` (optional): the Secrets Manager endpoint URL (the stack sets the
  regional endpoint; tests leave it unset so that moto answers).
- `EXCLUDE_CHARACTERS` (optional): characters the generated password must not contain
  (default: ``/@"'\\``, which break connection strings).
- `PASSWORD_LENGTH` (optional, default 32).
- `DATABASE_CA_FILE` (optional): the CA bundle for `verify-full` (default: the packaged
  `certs/prod-ca-2021.crt`).

After `finishSecret` moves AWSCURRENT, the rotation is recorded in `ops.key_rotations` (the secret's name,
`aws_secrets_manager`, who: this function, next due: the secret's rotation interval) as the ops recorder login,
through `ops_record_core.py` (tools/ops_record_core.py, packaged next to it by tools/build_lambdas.py). Its
credential is the secret named by `OPS_RECORDER_SECRET_ID` (a name: the function exists before that secret, which
it rotates too), and TLS is verified against `PGSSLROOTCERT`. A write that fails is logged and counted (EMF metric
`OpsRecordWriteFailures`): the rotation has happened and never fails for it. `ENVIRONMENT` names the stack.

Packaged by `tools/build_lambdas.py` with `requirements.txt` (pg8000, pure Python, pinned with
hashes) and `certs/`; boto3 comes with the Lambda runtime (python3.12).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import ssl
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

try:
    import ops_record_core  # packaged next to this handler by tools/build_lambdas.py
except ModuleNotFoundError:  # in the repository: the one copy, tools/ops_record_core.py
    from tools import ops_record_core
import pg8000.native
from botocore.exceptions import ClientError
from scramp import ScramMechanism

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)

CURRENT = "AWSCURRENT"
PENDING = "AWSPENDING"
PREVIOUS = "AWSPREVIOUS"

REQUIRED_FIELDS = ("engine", "host", "username", "password")
DEFAULT_PORT = 5432
DEFAULT_DATABASE = "postgres"
DEFAULT_EXCLUDED_CHARACTERS = "/@\"'\\"
DEFAULT_PASSWORD_LENGTH = 32
CONNECT_TIMEOUT_SECONDS = 10
SSL_MODES = ("verify-full", "require", "disable")
DEFAULT_SSL_MODE = "verify-full"
CA_FILE_VARIABLE = "DATABASE_CA_FILE"
PACKAGED_CA_FILE = Path(__file__).resolve().parent / "certs" / "prod-ca-2021.crt"
PEM_CERTIFICATE = "-----BEGIN CERTIFICATE-----"
AUTHENTICATION_FAILURES = ("28P01", "28000")  # invalid_password, invalid_authorization_specification

# Built on the server with format(): %I quotes the role name as an identifier, %L the verifier as a literal.
ALTER_ROLE_STATEMENT = "SELECT format('ALTER ROLE %I WITH PASSWORD %L', CAST(:role AS text), CAST(:verifier AS text))"


class RotationError(RuntimeError):
    """A rotation step cannot go on. The message names the secret and version, never a value."""


# --- Secrets Manager ---------------------------------------------------------------------------------------


def secrets_client():
    """The Secrets Manager client, at the endpoint from the environment when one is set."""
    return boto3.client("secretsmanager", endpoint_url=os.environ.get("SECRETS_MANAGER_ENDPOINT") or None)


def token_needs_work(client, arn: str, token: str) -> bool:
    """The template's guard: rotation on, token staged. False when the token's version is already current."""
    metadata = client.describe_secret(SecretId=arn)
    if not metadata.get("RotationEnabled"):
        raise RotationError(f"secret {arn} is not enabled for rotation")
    versions = metadata.get("VersionIdsToStages", {})
    if token not in versions:
        raise RotationError(f"secret version {token} has no stage for rotation of secret {arn}")
    if CURRENT in versions[token]:
        LOG.info("version %s is already AWSCURRENT for secret %s: nothing to do", token, arn)
        return False
    if PENDING not in versions[token]:
        raise RotationError(f"secret version {token} is not set as AWSPENDING for rotation of secret {arn}")
    return True


class UnusableSecretValue(RotationError):
    """A version's value is not a usable PostgreSQL credential (the message names the fields, never a value)."""


def secret_dict(client, arn: str, stage: str, token: str | None = None) -> dict[str, Any]:
    """The secret's JSON at a stage (and version); checks the fields a PostgreSQL credential needs."""
    request = {"SecretId": arn, "VersionStage": stage}
    if token is not None:
        request["VersionId"] = token
    value = client.get_secret_value(**request).get("SecretString")
    try:
        document = json.loads(value) if isinstance(value, str) else None
    except json.JSONDecodeError:
        document = None
    if not isinstance(document, dict):
        raise UnusableSecretValue(f"the {stage} version of secret {arn} is not a JSON object")
    missing = [field for field in REQUIRED_FIELDS if not document.get(field)]
    if missing:
        raise UnusableSecretValue(f"the {stage} version of secret {arn} lacks the field(s) {', '.join(missing)}")
    if document["engine"] != "postgres":
        raise UnusableSecretValue(f"the {stage} version of secret {arn} is for engine {document['engine']!r}, "
                                  "not postgres")
    if document.get("sslmode", DEFAULT_SSL_MODE) not in SSL_MODES:
        raise UnusableSecretValue(f"the {stage} version of secret {arn} has an unknown sslmode; "
                                  f"use one of {SSL_MODES}")
    return document


def pending_dict(client, arn: str, token: str) -> dict[str, Any]:
    """The token's AWSPENDING value. An unusable one is unstaged (see the module docstring), then refused."""
    try:
        return secret_dict(client, arn, PENDING, token)
    except UnusableSecretValue as problem:
        client.update_secret_version_stage(SecretId=arn, VersionStage=PENDING, RemoveFromVersionId=token)
        LOG.warning("took AWSPENDING off version %s of secret %s: %s", token, arn, problem)
        raise RotationError(f"{problem}; took AWSPENDING off version {token} so that the next rotation starts "
                            f"afresh (or start one now: aws secretsmanager rotate-secret --secret-id {arn})") from None


def previous_dict(client, arn: str) -> dict[str, Any] | None:
    """AWSPREVIOUS, or None before the first rotation."""
    try:
        return secret_dict(client, arn, PREVIOUS)
    except ClientError as error:
        if error.response["Error"]["Code"] == "ResourceNotFoundException":
            return None
        raise


def new_password(client) -> str:
    exclude = os.environ.get("EXCLUDE_CHARACTERS", DEFAULT_EXCLUDED_CHARACTERS)
    length = int(os.environ.get("PASSWORD_LENGTH", DEFAULT_PASSWORD_LENGTH))
    return client.get_random_password(PasswordLength=length, ExcludeCharacters=exclude)["RandomPassword"]


# --- PostgreSQL --------------------------------------------------------------------------------------------


def ca_bundle_path() -> Path:
    """The CA bundle `verify-full` trusts: DATABASE_CA_FILE, else the one shipped in the package."""
    configured = os.environ.get(CA_FILE_VARIABLE)
    return Path(configured) if configured else PACKAGED_CA_FILE


def load_ca_bundle(path: Path) -> str:
    """The bundle's PEM text; RotationError naming the file when it is missing or holds no certificate."""
    try:
        text = path.read_text(encoding="ascii", errors="replace")
    except OSError as error:
        raise RotationError(f"the database CA bundle {path} cannot be read ({type(error).__name__}): ship "
                            f"Supabase's prod-ca-2021.crt in the package or set {CA_FILE_VARIABLE}") from None
    if PEM_CERTIFICATE not in text:
        raise RotationError(f"the database CA bundle {path} holds no certificate: add Supabase's prod-ca-2021.crt "
                            f"(Dashboard > Database settings > SSL configuration) or set {CA_FILE_VARIABLE}")
    return text


def ssl_context_for(secret: dict[str, Any]) -> ssl.SSLContext | bool:
    """The TLS setting the secret's `sslmode` asks for (default `verify-full`); False means no TLS at all."""
    mode = secret.get("sslmode", DEFAULT_SSL_MODE)
    if mode == "disable":
        return False
    if mode == "require":
        LOG.warning("sslmode require for %s: the server certificate is not verified", secret["host"])
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    path = ca_bundle_path()
    try:
        context = ssl.create_default_context(cadata=load_ca_bundle(path))  # this bundle only, no system CAs
    except ssl.SSLError as error:
        raise RotationError(f"the database CA bundle {path} is not a valid PEM bundle: {error.reason}") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def connect(secret: dict[str, Any]) -> pg8000.native.Connection:
    """A connection with the secret's credentials. TLS failures raise RotationError (never a login failure)."""
    where = f"{secret['host']}:{int(secret.get('port') or DEFAULT_PORT)}"
    context = ssl_context_for(secret)
    try:
        return pg8000.native.Connection(
            user=secret["username"], password=secret["password"], host=secret["host"],
            port=int(secret.get("port") or DEFAULT_PORT), database=secret.get("dbname") or DEFAULT_DATABASE,
            ssl_context=context, timeout=CONNECT_TIMEOUT_SECONDS, application_name="kingtavo-secret-rotation")
    except ssl.SSLCertVerificationError as error:
        raise RotationError(f"the server certificate of {where} does not verify against the CA bundle "
                            f"{ca_bundle_path()} ({error.verify_message}): not sending any password") from None
    except ssl.SSLError as error:
        raise RotationError(f"TLS with {where} failed ({error.reason or type(error).__name__})") from None
    except pg8000.native.InterfaceError as error:
        if context is not False and "refuses SSL" in str(error):
            raise RotationError(f"the server {where} refuses TLS (sslmode {secret.get('sslmode', DEFAULT_SSL_MODE)})"
                                ) from None
        raise


def try_connect(secret: dict[str, Any]) -> pg8000.native.Connection | None:
    """A connection, or None when these credentials do not log in (or the server cannot be reached).

    A TLS failure is not a wrong password: it raises RotationError from `connect`."""
    try:
        return connect(secret)
    except (pg8000.native.Error, OSError) as error:
        LOG.info("login as %s on %s failed: %s", secret["username"], secret["host"], describe_error(error))
        return None


def describe_error(error: Exception) -> str:
    """A database error as SQLSTATE and server message: pg8000 errors carry no statement or password."""
    detail = error.args[0] if error.args else None
    if isinstance(detail, dict):
        return f"{detail.get('C', '?')}: {detail.get('M', 'unknown error')}"
    return type(error).__name__ if isinstance(error, OSError) else str(detail)


def scram_verifier(password: str) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (random salt, 4096 iterations)."""
    salt, stored_key, server_key, iterations = ScramMechanism("SCRAM-SHA-256").make_auth_info(password)

    def b64(value: bytes) -> str:
        return base64.b64encode(value).decode("ascii")

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def role_of(username: str) -> str:
    """The database role a login name stands for: Supabase's pooler logs `<role>.<project ref>` in as `<role>`."""
    role, _, project_ref = username.rpartition(".")
    return role if role and re.fullmatch(r"[a-z]{20}", project_ref) else username


def set_role_password(connection: pg8000.native.Connection, role: str, password: str) -> None:
    """ALTER ROLE with the verifier; the role name is quoted by the server (format's %I)."""
    statement = connection.run(ALTER_ROLE_STATEMENT, role=role_of(role), verifier=scram_verifier(password))[0][0]
    connection.run(statement)


def same_login(first: dict[str, Any], second: dict[str, Any]) -> bool:
    """Whether two versions name the same role on the same server (single-user rotation changes only the password)."""
    def key(secret: dict[str, Any]) -> tuple:
        return secret["username"], secret["host"], int(secret.get("port") or DEFAULT_PORT)

    return key(first) == key(second)


# --- the four steps ----------------------------------------------------------------------------------------


def create_secret(client, arn: str, token: str) -> None:
    current = secret_dict(client, arn, CURRENT)
    try:
        pending_dict(client, arn, token)
        LOG.info("createSecret: version %s of secret %s already has a value", token, arn)
        return
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
    pending = {**current, "password": new_password(client)}
    client.put_secret_value(SecretId=arn, ClientRequestToken=token, SecretString=json.dumps(pending),
                            VersionStages=[PENDING])
    LOG.info("createSecret: put a new password in version %s of secret %s", token, arn)


def set_secret(client, arn: str, token: str) -> None:
    current = secret_dict(client, arn, CURRENT)
    pending = pending_dict(client, arn, token)
    pending_login = try_connect(pending)
    if pending_login is not None:
        pending_login.close()
        LOG.info("setSecret: the database already accepts version %s of secret %s", token, arn)
        return
    if not same_login(current, pending):
        raise RotationError(f"versions AWSCURRENT and {token} of secret {arn} name different roles or servers")
    connection = try_connect(current)
    previous = None if connection is not None else previous_dict(client, arn)
    if connection is None and previous is not None and same_login(previous, pending):
        # Only the password may differ: the server and TLS settings stay those of AWSCURRENT.
        connection = try_connect({**current, "password": previous["password"]})
    if connection is None:
        raise RotationError(f"setSecret: cannot log in with the previous, current or pending version of secret {arn}")
    try:
        set_role_password(connection, pending["username"], pending["password"])
    except pg8000.native.Error as error:
        raise RotationError(f"setSecret: the database refused the new password for secret {arn}: "
                            f"{describe_error(error)}") from None
    finally:
        connection.close()
    LOG.info("setSecret: the database now accepts version %s of secret %s", token, arn)


def test_secret(client, arn: str, token: str) -> None:
    pending = pending_dict(client, arn, token)
    try:
        connection = connect(pending)
    except (pg8000.native.Error, OSError) as error:
        raise RotationError(f"testSecret: version {token} of secret {arn} does not log in: "
                            f"{describe_error(error)}") from None
    try:
        connection.run("SELECT now()")
    finally:
        connection.close()
    LOG.info("testSecret: version %s of secret %s logs in", token, arn)


def finish_secret(client, arn: str, token: str) -> None:
    versions = client.describe_secret(SecretId=arn)["VersionIdsToStages"]
    current_version = next(version for version, stages in versions.items() if CURRENT in stages)
    client.update_secret_version_stage(SecretId=arn, VersionStage=CURRENT, MoveToVersionId=token,
                                       RemoveFromVersionId=current_version)
    # A successful rotation leaves AWSPENDING on no version (or on the current one): take it off.
    client.update_secret_version_stage(SecretId=arn, VersionStage=PENDING, RemoveFromVersionId=token)
    LOG.info("finishSecret: version %s is now AWSCURRENT for secret %s (was %s)", token, arn, current_version)
    record_rotation(client, arn)


DEFAULT_ROTATION_DAYS = 30


def rotation_row(metadata: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The ops.key_rotations row for a finished rotation of the secret `metadata` describes (DescribeSecret)."""
    days = (metadata.get("RotationRules") or {}).get("AutomaticallyAfterDays") or DEFAULT_ROTATION_DAYS
    next_due = metadata.get("NextRotationDate")
    if not isinstance(next_due, datetime) or next_due <= now:
        next_due = now + timedelta(days=int(days))
    return {"environment": os.environ.get("ENVIRONMENT", ""), "store": "aws_secrets_manager",
            "secret_name": metadata["Name"], "rotated_at": now, "next_due_at": next_due,
            "rotated_by": os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "secret-rotation")[:100]}


def record_rotation(client, arn: str) -> bool:
    """Record the rotation in ops.key_rotations; False (logged, metric emitted) when it could not be written."""
    try:
        metadata = client.describe_secret(SecretId=arn)
        recorder = json.loads(client.get_secret_value(SecretId=os.environ["OPS_RECORDER_SECRET_ID"])["SecretString"])
        url = ops_record_core.url_from_secret(recorder)
        row = rotation_row(metadata, datetime.now(UTC))
    except Exception as error:  # noqa: BLE001 - never fail a finished rotation for its record
        LOG.warning("ops record: cannot record the rotation of secret %s: %s", arn, type(error).__name__)
        ops_record_core.emit_failure_metric("key_rotations")
        return False
    return ops_record_core.record(url, "key_rotations", row)


STEPS: dict[str, Callable[[Any, str, str], None]] = {
    "createSecret": create_secret,
    "setSecret": set_secret,
    "testSecret": test_secret,
    "finishSecret": finish_secret,
}


def lambda_handler(event: dict[str, Any], context: Any) -> None:
    """Entry point: one rotation step for one secret version."""
    arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    if step not in STEPS:
        raise RotationError(f"unknown rotation step {step!r}")
    client = secrets_client()
    if not token_needs_work(client, arn, token):
        return
    LOG.info("%s: secret %s, version %s", step, arn, token)
    STEPS[step](client, arn, token)
