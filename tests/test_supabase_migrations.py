"""The ops schema's migrations through the real pipeline: a PostgreSQL 15 server the tests start, the Supabase
bootstrap a hosted database would already have, the Supabase CLI applying `supabase/migrations`, its advisors
and plpgsql lint, pgTAP via pg_prove, and squawk. Every tool is required: a missing one fails the test."""

from __future__ import annotations

import re
import shutil
import tomllib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pg8000.native
import pytest

from tests.support.postgres import PostgresServer
from tests.support.supabase_db import (
    SUPABASE_DIR,
    advisor_findings,
    apply_migrations,
    bootstrap_supabase_roles,
    run_advisors,
    run_db_lint,
    run_pg_prove,
    run_squawk,
    supabase_database,
)

MIGRATIONS = sorted((SUPABASE_DIR / "migrations").glob("*.sql"))
MIGRATION_NAME = re.compile(r"^(?P<version>\d{14})_(?P<name>[a-z0-9_]+)\.sql$")
OPS_TABLES = {
    "deployments", "backup_checks", "restore_drills", "alerts", "alert_acknowledgments", "incidents",
    "incident_timeline_entries", "post_incident_reviews", "key_rotations", "drift_checks",
}


@pytest.fixture(scope="module")
def ops_db(postgres: PostgresServer) -> Iterator[tuple[str, str]]:
    """One database with every migration applied by the CLI: (database name, the CLI's output)."""
    name = postgres.create_database("ops")
    try:
        yield name, supabase_database(postgres, name)
    finally:
        postgres.drop_database(name)


def query(server: PostgresServer, database: str, sql: str, **params) -> list[list]:
    connection = pg8000.native.Connection(**server.connect_kwargs(database))
    try:
        return connection.run(sql, **params)
    finally:
        connection.close()


def applied_versions(server: PostgresServer, database: str) -> list[str]:
    rows = query(server, database, "SELECT version FROM supabase_migrations.schema_migrations ORDER BY version")
    return [row[0] for row in rows]


def copy_with_migration(tmp_path: Path, name: str, sql: str) -> Path:
    """A temporary copy of supabase/ with one extra migration, so the repository is never touched."""
    copy = tmp_path / "supabase"
    shutil.copytree(SUPABASE_DIR, copy, ignore=shutil.ignore_patterns(".temp", ".branches"))
    (copy / "migrations" / name).write_text(sql)
    return copy


# -- the project files ------------------------------------------------------------------------------------


def test_config_matches_the_hosted_project_and_holds_no_secret_values():
    config = tomllib.loads((SUPABASE_DIR / "config.toml").read_text())
    assert config["project_id"] == "kingtavo"
    assert config["db"]["major_version"] == 15
    assert "ops" in config["api"]["schemas"]
    for seed in config["db"]["seed"]["sql_paths"]:
        assert (SUPABASE_DIR / seed).is_file(), seed
    edge_secrets = config["edge_runtime"]["secrets"]
    assert set(edge_secrets) == {"OPENAI_API_KEY", "WEBHOOK_SIGNING_SECRET"}
    assert all(value == f"env({name})" for name, value in edge_secrets.items())
    assert config["studio"]["openai_api_key"] == "env(OPENAI_API_KEY)"


def test_migrations_are_named_by_utc_timestamp_in_order():
    assert len(MIGRATIONS) >= 6
    versions = []
    for path in MIGRATIONS:
        match = MIGRATION_NAME.match(path.name)
        assert match, f"{path.name}: want <UTC YYYYMMDDHHMMSS>_<name>.sql"
        datetime.strptime(match["version"], "%Y%m%d%H%M%S")  # a real date and time, or ValueError
        versions.append(match["version"])
    assert len(set(versions)) == len(versions), "two migrations share a version"


# -- migration up -----------------------------------------------------------------------------------------


def test_supabase_cli_applies_every_migration(postgres, ops_db):
    database, output = ops_db
    for path in MIGRATIONS:
        assert f"Applying migration {path.name}" in output
    assert applied_versions(postgres, database) == [MIGRATION_NAME.match(p.name)["version"] for p in MIGRATIONS]
    tables = {row[0] for row in query(postgres, database,
                                      "SELECT tablename FROM pg_tables WHERE schemaname = 'ops'")}
    assert tables == OPS_TABLES


def test_rerunning_migration_up_applies_nothing(postgres, ops_db):
    database, _ = ops_db
    before = applied_versions(postgres, database)
    output = apply_migrations(postgres, database)
    assert "Applying migration" not in output
    assert "up to date" in output
    assert applied_versions(postgres, database) == before


# -- advisors, lint, squawk -------------------------------------------------------------------------------


def test_advisors_report_nothing_at_warn_or_above(postgres, ops_db):
    database, _ = ops_db
    run = run_advisors(postgres, database)
    assert run.ok, run.output
    serious = [f for f in advisor_findings(run) if f["level"] != "INFO"]
    assert serious == []


@pytest.mark.parametrize(("table", "grant"), [
    ("public.planted_without_rls", ""),  # Supabase's default privileges give anon every table in public
    ("ops.planted_without_rls", "grant select on ops.planted_without_rls to authenticated;"),
])
def test_advisors_fail_on_a_planted_table_without_rls(postgres, scratch_db, tmp_path, table, grant):
    planted = copy_with_migration(tmp_path, "29991231235959_planted_table_without_rls.sql",
                                  f"create table {table} (id bigint primary key);\n{grant}\n")
    bootstrap_supabase_roles(postgres, scratch_db)
    apply_migrations(postgres, scratch_db, planted)
    run = run_advisors(postgres, scratch_db, planted)
    assert not run.ok
    flagged = [(f["name"], f["level"], f["metadata"]["schema"] + "." + f["metadata"]["name"])
               for f in advisor_findings(run) if f["level"] != "INFO"]
    assert flagged == [("rls_disabled_in_public", "ERROR", table)]


def test_db_lint_finds_no_error_in_ops_functions(postgres, ops_db):
    database, _ = ops_db
    run = run_db_lint(postgres, database, "ops,ops_private")
    assert run.ok, run.output
    assert "No schema errors found" in run.output


def test_db_lint_fails_on_a_broken_function(postgres, scratch_db, tmp_path):
    """The control for the test above: the same lint call does see a function that cannot run."""
    broken = copy_with_migration(tmp_path, "29991231235959_broken_function.sql", """
create function ops_private.count_missing() returns bigint language plpgsql set search_path = '' as $$
begin
  return (select count(*) from ops.no_such_table);
end;
$$;
""")
    supabase_database(postgres, scratch_db, broken)
    run = run_db_lint(postgres, scratch_db, "ops,ops_private", broken)
    assert not run.ok
    assert "ops_private.count_missing" in run.stdout
    assert 'relation \\"ops.no_such_table\\" does not exist' in run.stdout


def test_trigger_functions_pass_plpgsql_check(postgres, ops_db):
    """`supabase db lint` skips trigger functions (plpgsql_check needs the table), so check each one here
    against every table it is attached to. The extension lives only inside this rolled-back transaction."""
    database, _ = ops_db
    connection = pg8000.native.Connection(**postgres.connect_kwargs(database))
    try:
        connection.run("BEGIN")
        connection.run("CREATE EXTENSION plpgsql_check WITH SCHEMA extensions")
        triggers = connection.run("""
            SELECT DISTINCT t.tgfoid::regprocedure::text, t.tgrelid::regclass::text, t.tgfoid, t.tgrelid
            FROM pg_trigger AS t JOIN pg_proc AS p ON p.oid = t.tgfoid JOIN pg_language AS l ON l.oid = p.prolang
            WHERE NOT t.tgisinternal AND l.lanname = 'plpgsql'
              AND t.tgrelid::regclass::text LIKE 'ops.%'
        """)
        problems = {}
        for function, table, function_oid, table_oid in triggers:
            issues = connection.run(
                "SELECT level, message FROM extensions.plpgsql_check_function_tb(CAST(:f AS oid), CAST(:t AS oid))",
                f=function_oid, t=table_oid)
            if issues:
                problems[f"{function} on {table}"] = issues
        connection.run("ROLLBACK")
    finally:
        connection.close()
    assert {row[0] for row in triggers} == {
        "ops_private.refuse_history_change()", "ops_private.require_resolved_incident()",
    }
    assert problems == {}


def test_squawk_finds_nothing_unsafe_in_the_migrations():
    run = run_squawk(MIGRATIONS)
    assert run.ok, run.output


def test_squawk_still_flags_an_unsafe_migration(tmp_path):
    """The control: the repository's squawk settings do not silence the rules that matter."""
    unsafe = tmp_path / "29991231235959_unsafe.sql"
    unsafe.write_text("set lock_timeout = '5s';\nset statement_timeout = '60s';\n"
                      "alter table ops.deployments alter column release type varchar(50);\n"
                      "create table planted (id int primary key);\n")
    run = run_squawk([unsafe])
    assert not run.ok
    assert "changing-column-type" in run.stdout
    assert "require-table-schema" in run.stdout
    assert "prefer-bigint-over-int" in run.stdout


# -- pgTAP and the seed -----------------------------------------------------------------------------------


def test_pgtap_suite_passes_under_pg_prove(postgres, ops_db):
    database, _ = ops_db
    run = run_pg_prove(postgres, database)
    assert run.ok, run.output
    assert "All tests successful." in run.output
    assert f"Files={len(list((SUPABASE_DIR / 'tests').glob('*.sql')))}," in run.output


def test_seed_loads_on_the_migrated_schema(postgres, scratch_db):
    supabase_database(postgres, scratch_db)
    loaded = postgres.psql((SUPABASE_DIR / "seed.sql").read_text(), scratch_db, check=False)
    assert loaded.returncode == 0, loaded.stderr
    counts = dict(query(postgres, scratch_db, """
        SELECT table_name::text, (xpath('/row/n/text()', query_to_xml(
                 format('SELECT count(*) AS n FROM %I.%I', table_schema, table_name), false, true, '')))[1]::text::int
        FROM information_schema.tables WHERE table_schema = 'ops' AND table_type = 'BASE TABLE'"""))
    assert set(counts) == OPS_TABLES
    assert [table for table, count in counts.items() if count == 0] == [], "seed.sql leaves these tables empty"
    overdue = query(postgres, scratch_db, "SELECT secret_name FROM ops.key_rotation_status WHERE overdue")
    assert overdue == [["EXAMPLE_API_KEY"]]


# -- the bootstrap other tests reuse ----------------------------------------------------------------------


def test_bootstrap_is_repeatable_and_auth_functions_read_the_jwt_claims(postgres, scratch_db):
    bootstrap_supabase_roles(postgres, scratch_db)
    bootstrap_supabase_roles(postgres, scratch_db)  # roles and schemas already there: no error
    claims = '{"sub": "00000000-0000-4000-8000-0000000000b1", "role": "authenticated", "app_metadata": {"x": 1}}'
    connection = pg8000.native.Connection(**postgres.connect_kwargs(scratch_db))
    try:
        connection.run("SELECT set_config('request.jwt.claims', :claims, false)", claims=claims)
        uid, role, app_metadata = connection.run(
            "SELECT auth.uid()::text, auth.role(), auth.jwt() -> 'app_metadata' ->> 'x'")[0]
        connection.run("SELECT set_config('request.jwt.claims', '', false)")
        empty = connection.run("SELECT auth.uid(), auth.role(), auth.jwt()")[0]
        roles = connection.run("""
            SELECT rolname, rolcanlogin, rolbypassrls FROM pg_roles
            WHERE rolname IN ('anon', 'authenticated', 'service_role', 'authenticator') ORDER BY rolname""")
    finally:
        connection.close()
    assert (uid, role, app_metadata) == ("00000000-0000-4000-8000-0000000000b1", "authenticated", "1")
    assert empty == [None, None, None]
    assert roles == [["anon", False, False], ["authenticated", False, False], ["authenticator", True, False],
                     ["service_role", False, True]]
