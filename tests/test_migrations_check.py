"""tools/migrations_check.py on the real PostgreSQL with the migrations applied by the real Supabase CLI."""

from __future__ import annotations

import io
import shutil

import pytest

from tests.support.supabase_db import SUPABASE_DIR, cli_workdir, run_cli, supabase_database
from tools import migrations_check

# user:password, assembled at run time so no committed line is a URL with a password in it.
FAKE_USERINFO = ":".join(("u", "fake-p"))


@pytest.fixture
def linked(postgres, scratch_db, monkeypatch):
    supabase_database(postgres, scratch_db)
    monkeypatch.setenv(migrations_check.URL_ENV, postgres.dsn(scratch_db))
    return scratch_db


def cli_list(postgres, database) -> str:
    with cli_workdir() as workdir:
        run = run_cli(["migration", "list", "--db-url", postgres.dsn(database)], workdir)
    assert run.ok, run.output
    return run.stdout


def test_a_database_in_step_passes_both_ways(postgres, linked, capsys, monkeypatch):
    assert migrations_check.main([]) == 0
    count = len(list((SUPABASE_DIR / "migrations").glob("*.sql")))
    assert f"exactly the {count} migrations" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO(cli_list(postgres, linked)))
    assert migrations_check.main(["--cli-output", "-"]) == 0


def test_a_missing_an_extra_and_a_renamed_migration_are_each_named(postgres, linked, capsys, monkeypatch):
    postgres.psql("DELETE FROM supabase_migrations.schema_migrations WHERE version = '20261129000600';"
                  "UPDATE supabase_migrations.schema_migrations SET name = 'renamed' WHERE version = '20261129000200';"
                  "INSERT INTO supabase_migrations.schema_migrations (version, name) "
                  "VALUES ('20991231000000', 'from_a_branch')", linked)
    assert migrations_check.main([]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "::error::migrations check: 20261129000600_ops_key_rotations.sql is in supabase/migrations/ but not applied",
        "::error::migrations check: 20991231000000 (from_a_branch) is applied in the database but not in "
        "supabase/migrations/",
        "::error::migrations check: 20261129000200: applied as 'renamed', the file says 'ops_deployments'",
    ]
    monkeypatch.setattr("sys.stdin", io.StringIO(cli_list(postgres, linked)))
    assert migrations_check.main(["--cli-output", "-"]) == 1
    out = capsys.readouterr().out
    assert "20261129000600_ops_key_rotations.sql is in supabase/migrations/ but not applied" in out
    assert "20991231000000 (no name) is applied in the database but not in supabase/migrations/" in out


def test_a_migration_added_to_the_repository_but_not_pushed_fails(postgres, linked, tmp_path, capsys):
    copy = tmp_path / "migrations"
    shutil.copytree(SUPABASE_DIR / "migrations", copy)
    (copy / "29991231235959_not_yet.sql").write_text("select 1;\n")
    assert migrations_check.main(["--migrations-dir", str(copy)]) == 1
    assert "29991231235959_not_yet.sql is in supabase/migrations/ but not applied" in capsys.readouterr().out


@pytest.mark.parametrize(("setup", "message"), [
    ("unset", "SUPABASE_DB_URL is not set"),
    ("remote-no-tls", "SUPABASE_DB_URL sslmode: disable is only allowed for a loopback host"),
    ("no-history", "cannot read the migration history: 42P01"),
    ("garbage-cli", "no `supabase migration list` table found"),
])
def test_when_it_cannot_check_it_exits_two(postgres, scratch_db, monkeypatch, capsys, setup, message):
    args = []
    if setup == "unset":
        monkeypatch.delenv(migrations_check.URL_ENV, raising=False)
    elif setup == "remote-no-tls":
        remote = f"postgresql://{FAKE_USERINFO}@db.example.invalid/postgres?sslmode=disable"
        monkeypatch.setenv(migrations_check.URL_ENV, remote)
    elif setup == "no-history":
        monkeypatch.setenv(migrations_check.URL_ENV, postgres.dsn(scratch_db))
    else:
        monkeypatch.setattr("sys.stdin", io.StringIO("Cannot connect to the database\n"))
        args = ["--cli-output", "-"]
    assert migrations_check.main(args) == 2
    assert message in capsys.readouterr().err
