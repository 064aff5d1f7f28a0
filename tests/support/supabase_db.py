"""Turn a bare PostgreSQL 15 database into what a Supabase database looks like to our migrations, and run
the real Supabase tooling against it: the CLI (`migration up`, `db advisors`, `db lint`), `pg_prove` and squawk.

A hosted Supabase database ships with roles (`anon`, `authenticated`, `service_role`, `authenticator`), an
`extensions` schema and an `auth` schema whose `auth.uid()`, `auth.role()` and `auth.jwt()` read the JWT
claims PostgREST puts in `request.jwt.claims`. A bare server has none of that, so `bootstrap_supabase_roles`
creates the same objects (the function bodies follow supabase/auth's migrations) before the CLI applies
`supabase/migrations`. Roles are cluster-wide and the test server is shared by the whole session, so the
bootstrap tolerates roles that already exist.

The CLI runs on a temporary copy of the project folder: it writes `supabase/.temp` into its workdir, and a
test that plants a scratch migration must not touch the repository. It runs with a throwaway HOME and
telemetry off, needs neither Docker nor a login, and gets `?sslmode=disable` from the server's dsn.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.postgres import PostgresServer

ROOT = Path(__file__).resolve().parents[2]
SUPABASE_DIR = ROOT / "supabase"
SUPABASE_CLI = ROOT / "node_modules" / ".bin" / "supabase"
SQUAWK_CONFIG = ROOT / ".squawk.toml"

# The schemas PostgREST exposes, as `[api] schemas` in supabase/config.toml says. Splinter (the advisors)
# reads `pgrst.db_schemas` to know which schemas are reachable over the API, as on a hosted project.
EXPOSED_SCHEMAS = "public,graphql_public,ops"

ROLES_SQL = """
DO $roles$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'anon') THEN
    CREATE ROLE anon NOLOGIN NOINHERIT;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticated') THEN
    CREATE ROLE authenticated NOLOGIN NOINHERIT;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'service_role') THEN
    CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticator') THEN
    CREATE ROLE authenticator NOINHERIT LOGIN;
  END IF;
END
$roles$;
GRANT anon, authenticated, service_role TO authenticator;
"""

# Per database: what Supabase's image creates before any project migration runs.
DATABASE_SQL = """
CREATE SCHEMA IF NOT EXISTS extensions;
GRANT USAGE ON SCHEMA extensions TO anon, authenticated, service_role;
CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA extensions;
CREATE EXTENSION IF NOT EXISTS pgtap WITH SCHEMA extensions;

CREATE SCHEMA IF NOT EXISTS auth;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;

CREATE OR REPLACE FUNCTION auth.jwt() RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;

CREATE OR REPLACE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
  SELECT coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;

CREATE OR REPLACE FUNCTION auth.role() RETURNS text LANGUAGE sql STABLE AS $$
  SELECT coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$$;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA auth TO anon, authenticated, service_role;

-- Supabase grants the API roles everything in `public` and leaves row level security as the guard.
GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role;
"""


class SupabaseToolError(RuntimeError):
    """A Supabase tool exited non-zero; the message carries its whole output so a failing test shows why."""


@dataclass(frozen=True)
class ToolRun:
    """One finished tool run. The CLI prints results (JSON for advisors and lint) on stdout, progress on stderr."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def bootstrap_supabase_roles(server: PostgresServer, database: str) -> None:
    """Give `database` the roles, schemas and auth functions a hosted Supabase database starts with."""
    server.psql(ROLES_SQL, database)
    server.psql(DATABASE_SQL, database)
    server.psql(f'ALTER DATABASE "{database}" SET search_path = "$user", public, extensions', database)
    server.psql(f"ALTER DATABASE \"{database}\" SET pgrst.db_schemas = '{EXPOSED_SCHEMAS}'", database)


def supabase_cli() -> Path:
    """The pinned CLI from package.json; missing means `npm ci` did not run, which must fail, not skip."""
    if not SUPABASE_CLI.exists():
        raise SupabaseToolError(f"Supabase CLI not found at {SUPABASE_CLI}: run `npm ci` (make tools does)")
    return SUPABASE_CLI


@contextlib.contextmanager
def cli_workdir(supabase_dir: Path = SUPABASE_DIR) -> Iterator[Path]:
    """A temporary project folder holding a copy of `supabase_dir` as `supabase/`, deleted afterwards."""
    with tempfile.TemporaryDirectory(prefix="kingtavo-supabase-") as tmp:
        workdir = Path(tmp)
        shutil.copytree(supabase_dir, workdir / "supabase", ignore=shutil.ignore_patterns(".temp", ".branches"))
        (workdir / "home").mkdir()
        yield workdir


def run_cli(args: list[str], workdir: Path) -> ToolRun:
    """Run the Supabase CLI in `workdir` without Docker, login or telemetry, and return what it said."""
    env = {
        **os.environ,
        "HOME": str(workdir / "home"),
        "DO_NOT_TRACK": "1",
        "SUPABASE_TELEMETRY_DISABLED": "1",
    }
    env.pop("SUPABASE_ACCESS_TOKEN", None)
    completed = subprocess.run([str(supabase_cli()), "--workdir", str(workdir), *args],
                               capture_output=True, text=True, env=env, check=False)
    return ToolRun(completed.returncode, completed.stdout, completed.stderr)


def _checked(run: ToolRun, what: str) -> str:
    if not run.ok:
        raise SupabaseToolError(f"{what} failed (exit {run.returncode}):\n{run.output}")
    return run.output


def apply_migrations(server: PostgresServer, database: str, supabase_dir: Path = SUPABASE_DIR) -> str:
    """`supabase migration up --db-url ...` on `database`; returns the CLI output, raises with it on failure."""
    with cli_workdir(supabase_dir) as workdir:
        run = run_cli(["migration", "up", "--db-url", server.dsn(database)], workdir)
    return _checked(run, "supabase migration up")


def run_advisors(server: PostgresServer, database: str, supabase_dir: Path = SUPABASE_DIR,
                 fail_on: str = "warn") -> ToolRun:
    """`supabase db advisors` (splinter's security and performance lints), failing at `fail_on` or above."""
    with cli_workdir(supabase_dir) as workdir:
        return run_cli(["db", "advisors", "--db-url", server.dsn(database), "--type", "all",
                        "--level", "info", "--fail-on", fail_on], workdir)


def advisor_findings(run: ToolRun) -> list[dict]:
    """The advisors' findings from the CLI's JSON on stdout (each has name, level, detail, metadata)."""
    text = run.stdout.strip()
    if not text.startswith("["):
        return []
    return json.loads(text)


def run_db_lint(server: PostgresServer, database: str, schemas: str, supabase_dir: Path = SUPABASE_DIR) -> ToolRun:
    """`supabase db lint` (plpgsql_check over the functions in `schemas`), failing on any error."""
    with cli_workdir(supabase_dir) as workdir:
        return run_cli(["db", "lint", "--db-url", server.dsn(database), "--schema", schemas,
                        "--level", "warning", "--fail-on", "error"], workdir)


def run_pg_prove(server: PostgresServer, database: str, tests_dir: Path = SUPABASE_DIR / "tests") -> ToolRun:
    """`pg_prove` over the pgTAP files (what `supabase test db` runs, minus its Docker container)."""
    pg_prove = shutil.which("pg_prove")
    if pg_prove is None:
        raise SupabaseToolError("pg_prove not found: install libtap-parser-sourcehandler-pgtap-perl (.ci/run does)")
    files = sorted(str(path) for path in tests_dir.glob("*.sql"))
    if not files:
        raise SupabaseToolError(f"no pgTAP files in {tests_dir}")
    completed = subprocess.run(
        [pg_prove, "--host", "127.0.0.1", "--port", str(server.port), "--username", server.superuser,
         "--dbname", database, "--verbose", "--failures", "--nocolor", *files],
        capture_output=True, text=True, check=False,
        env={**os.environ, "PGPASSWORD": server.superuser_password, "PGSSLMODE": "disable"},
    )
    return ToolRun(completed.returncode, completed.stdout, completed.stderr)


def run_squawk(paths: list[Path], config: Path = SQUAWK_CONFIG) -> ToolRun:
    """squawk (PyPI squawk-cli, installed next to the test interpreter) over migration files."""
    squawk = Path(sys.executable).parent / "squawk"
    if not squawk.exists():
        found = shutil.which("squawk")
        if found is None:
            raise SupabaseToolError("squawk not found: install squawk-cli (the dev group of pyproject.toml: make venv)")
        squawk = Path(found)
    completed = subprocess.run([str(squawk), "--config", str(config), "--reporter", "gcc", *map(str, paths)],
                               capture_output=True, text=True, check=False)
    return ToolRun(completed.returncode, completed.stdout, completed.stderr)


def supabase_database(server: PostgresServer, database: str, supabase_dir: Path = SUPABASE_DIR) -> str:
    """Bootstrap `database` and apply every migration: the starting point of tests that need the ops schema."""
    bootstrap_supabase_roles(server, database)
    return apply_migrations(server, database, supabase_dir)
