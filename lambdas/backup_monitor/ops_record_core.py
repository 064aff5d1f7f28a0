"""Write one row of the ops record as the recorder login; a failed write never stops the job it records.

Standard library and pg8000 only, and no import from this repository, so the Lambdas (rotation, backup
monitor, alert receiver) vendor this file unchanged next to their handler; tests/test_ops_record.py
checks every vendored copy is byte-identical to tools/ops_record_core.py.

    from ops_record_core import record
    ok = record(os.environ["OPS_RECORDER_DATABASE_URL"], "key_rotations", {...})   # False: logged + metric

The URL is the recorder login's libpq URL: `postgresql://ops_recorder_login:<percent-encoded password>@host:5432/
postgres?sslmode=verify-full&sslrootcert=/path/ca.crt`. The password is percent-decoded (a generated password
may hold `@`, `/`, `%`). TLS verifies the server's certificate and name by default (`verify-full`; `verify-ca`
skips the name check); `sslmode=require` is refused because it does not verify, and `disable` is allowed for
a loopback host only. The CA comes from `sslrootcert`, else PGSSLROOTCERT, else the system store.

A failed write (database down, wrong password, a constraint) is logged as SQLSTATE and message (never the
URL or the password) and counted with a CloudWatch Embedded Metric Format line on stdout
(`Kingtavo/OpsRecord` `OpsRecordWriteFailures`, dimension Table), which Lambda turns into a metric with no
API call; `record` returns False and the job goes on. Written here rather than taken from a library: the
vendored file must stay dependency-free, and the whole job is one parameterised INSERT.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import ssl
import sys
import time
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

import pg8000.native

LOG = logging.getLogger("ops_record")
METRIC_NAMESPACE = "Kingtavo/OpsRecord"
FAILURE_METRIC = "OpsRecordWriteFailures"
CONNECT_TIMEOUT_SECONDS = 10
SSL_MODES = ("verify-full", "verify-ca", "disable")
KNOWN_PARAMS = {"sslmode", "sslrootcert", "connect_timeout", "application_name"}

# The columns each writer may set (the recorder's column grants); also the identifier whitelist for the SQL.
TABLE_COLUMNS = {
    "deployments": ("environment", "color", "release", "git_sha", "actor", "status", "started_at", "finished_at",
                    "web_sha", "etl_digest", "smoke_passed", "e2e_passed", "run_url"),
    "backup_checks": ("environment", "checked_at", "result", "backup_reference", "backup_taken_at", "findings"),
    "restore_drills": ("environment", "backup_reference", "started_at", "finished_at", "result",
                       "recovery_time_seconds", "data_gap_seconds", "integrity_findings"),
    "alerts": ("environment", "source", "name", "severity", "summary", "fired_at", "resolved_at", "fingerprint"),
    "key_rotations": ("environment", "store", "secret_name", "rotated_at", "rotated_by", "next_due_at", "note"),
    "drift_checks": ("environment", "checked_at", "result", "routing_drifted", "changes", "run_url"),
}
JSON_COLUMNS = {"findings", "integrity_findings", "changes"}
OPEN_ALERT_CONFLICT = ("ON CONFLICT (environment, source, fingerprint) "
                       "WHERE resolved_at IS NULL AND fingerprint IS NOT NULL DO NOTHING")


class RecorderConfigError(ValueError):
    """The recorder URL or a row is malformed; the message names the part and what was expected."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def ssl_context(mode: str, host: str, cafile: str | None) -> ssl.SSLContext | None:
    if mode not in SSL_MODES:
        raise RecorderConfigError(f"recorder URL sslmode: {mode!r} does not verify the server; use one of "
                                  f"{', '.join(SSL_MODES)} (verify-full is the default)")
    if mode == "disable":
        if not is_loopback(host):
            raise RecorderConfigError(f"recorder URL sslmode: disable is only allowed for a loopback host, not {host}")
        return None
    if cafile and not os.path.isfile(cafile):
        raise RecorderConfigError(f"recorder URL sslrootcert: {cafile} is not a file")
    context = ssl.create_default_context(cafile=cafile or None)
    context.check_hostname = mode == "verify-full"
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def connect_kwargs(url: str) -> dict:
    """pg8000 connection arguments from a libpq URL, the password percent-decoded, TLS verified by default."""
    if not url:
        raise RecorderConfigError("recorder URL is empty: set OPS_RECORDER_DATABASE_URL")
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise RecorderConfigError("recorder URL: expected postgresql://user:password@host:port/database")
    if not parts.hostname:
        raise RecorderConfigError("recorder URL: no host")
    if not parts.username:
        raise RecorderConfigError("recorder URL: no user")
    try:
        port = parts.port or 5432
    except ValueError:
        raise RecorderConfigError("recorder URL: the port is not a number") from None
    params = {key: values[-1] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
    unknown = sorted(set(params) - KNOWN_PARAMS)
    if unknown:
        raise RecorderConfigError(f"recorder URL: unknown parameter(s) {', '.join(unknown)}; "
                                  f"known: {', '.join(sorted(KNOWN_PARAMS))}")
    host = parts.hostname
    cafile = params.get("sslrootcert") or os.environ.get("PGSSLROOTCERT")
    timeout = params.get("connect_timeout", str(CONNECT_TIMEOUT_SECONDS))
    if not timeout.isdigit() or int(timeout) < 1:
        raise RecorderConfigError("recorder URL connect_timeout: expected a whole number of seconds >= 1")
    return {
        "host": host, "port": port, "user": unquote(parts.username),
        "password": unquote(parts.password) if parts.password is not None else None,
        "database": unquote(parts.path.lstrip("/")) or "postgres",
        "ssl_context": ssl_context(params.get("sslmode", "verify-full"), host, cafile),
        "timeout": int(timeout), "application_name": params.get("application_name", "ops-recorder"),
    }


def url_from_secret(secret: dict) -> str:
    """The recorder URL from a Secrets Manager secret in the rotation function's shape
    ({"host", "port", "username", "password", "dbname", "sslmode"?, "sslrootcert"?}), the password encoded."""
    missing = [key for key in ("host", "username", "password") if not secret.get(key)]
    if missing:
        raise RecorderConfigError(f"recorder secret: missing {', '.join(missing)}")
    params = {"sslmode": secret.get("sslmode") or "verify-full"}
    if secret.get("sslrootcert"):
        params["sslrootcert"] = secret["sslrootcert"]
    user, password = quote(str(secret["username"]), safe=""), quote(str(secret["password"]), safe="")
    database = quote(str(secret.get("dbname") or "postgres"), safe="")
    return (f"postgresql://{user}:{password}@{secret['host']}:{int(secret.get('port') or 5432)}/{database}?"
            f"{urlencode(params)}")


def connect(url: str) -> pg8000.native.Connection:
    return pg8000.native.Connection(**connect_kwargs(url))


def insert_sql(table: str, row: dict) -> tuple[str, dict]:
    """A parameterised INSERT for one row: only known tables and columns, JSON columns cast to jsonb."""
    if table not in TABLE_COLUMNS:
        raise RecorderConfigError(f"table: {table!r} is not in the ops record; one of {', '.join(TABLE_COLUMNS)}")
    unknown = sorted(set(row) - set(TABLE_COLUMNS[table]))
    if unknown:
        raise RecorderConfigError(f"{table}: unknown column(s) {', '.join(unknown)}")
    columns = [c for c in TABLE_COLUMNS[table] if c in row]
    values = [f"CAST(:{c} AS jsonb)" if c in JSON_COLUMNS else f":{c}" for c in columns]
    params = {c: json.dumps(row[c]) if c in JSON_COLUMNS else row[c] for c in columns}
    sql = f"INSERT INTO ops.{table} ({', '.join(columns)}) VALUES ({', '.join(values)})"  # noqa: S608 - whitelisted
    if table == "alerts" and row.get("fingerprint"):
        sql += " " + OPEN_ALERT_CONFLICT
    return sql, params


def describe_error(error: BaseException) -> str:
    """SQLSTATE and server message for a database error; the class and text for anything else (no URL)."""
    if isinstance(error, pg8000.native.DatabaseError) and error.args and isinstance(error.args[0], dict):
        fields = error.args[0]
        return f"{fields.get('C', '?')}: {fields.get('M', 'database error')}"
    if isinstance(error, RecorderConfigError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def emit_failure_metric(table: str, stream=None) -> None:
    """One CloudWatch Embedded Metric Format line: Lambda's log pipeline makes it a metric."""
    document = {
        "_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [{
            "Namespace": METRIC_NAMESPACE, "Dimensions": [["Table"]],
            "Metrics": [{"Name": FAILURE_METRIC, "Unit": "Count"}]}]},
        "Table": table, FAILURE_METRIC: 1,
    }
    print(json.dumps(document), file=stream or sys.stdout, flush=True)


def execute(url: str, sql: str, params: dict) -> int:
    """Run one statement as the recorder; returns the affected row count."""
    connection = connect(url)
    try:
        connection.run(sql, **params)
        return connection.row_count
    finally:
        connection.close()


def record(url: str | None, table: str, row: dict, stream=None) -> bool:
    """Insert `row` into ops.<table>. True when written; False (logged, metric emitted) when it was not."""
    try:
        sql, params = insert_sql(table, row)
        execute(url or "", sql, params)
        return True
    except Exception as error:  # noqa: BLE001 - by design: recording must never break the job it records
        LOG.warning("ops record: could not write ops.%s: %s", table, describe_error(error))
        emit_failure_metric(table, stream)
        return False


def resolve_alert(url: str | None, environment: str, source: str, fingerprint: str, resolved_at, stream=None) -> bool:
    """Mark the recorder's open alert with this fingerprint resolved. True when written (even if none was open)."""
    sql = ("UPDATE ops.alerts SET resolved_at = GREATEST(CAST(:resolved_at AS timestamptz), fired_at) "
           "WHERE environment = :environment AND source = :source AND fingerprint = :fingerprint "
           "AND resolved_at IS NULL")
    try:
        execute(url or "", sql, {"resolved_at": resolved_at, "environment": environment, "source": source,
                                 "fingerprint": fingerprint})
        return True
    except Exception as error:  # noqa: BLE001 - as in record()
        LOG.warning("ops record: could not resolve an alert: %s", describe_error(error))
        emit_failure_metric("alerts", stream)
        return False
