"""Fail when the linked database's applied migrations differ from supabase/migrations/.

    SUPABASE_DB_URL=postgresql://...?sslmode=verify-full&sslrootcert=ca.crt python -m tools.migrations_check
    npx --no-install supabase migration list --linked | python -m tools.migrations_check --cli-output -

The first form reads `supabase_migrations.schema_migrations` (version and name) over verified TLS
(tools/ops_record_core.py parses the URL: password percent-decoded, `sslmode=disable` for loopback only).
The second parses the table `supabase migration list` prints (Local | Remote | Time), for a workflow that
only has the CLI's link. Either way every difference is named: a migration in the repository the database
has not applied, one the database applied that the repository does not have (applied from a branch, or
deleted after it ran), and, from the database, a version whose name differs from the file's.
Exit 0 in step, 1 different, 2 could not check.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from tools import ops_record_core

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS_DIR = ROOT / "supabase" / "migrations"
URL_ENV = "SUPABASE_DB_URL"
FILE_NAME = re.compile(r"^(?P<version>\d{14})_(?P<name>[A-Za-z0-9_]+)\.sql$")
CLI_ROW = re.compile(r"^\s*`?(?P<local>\d{14})?\s*`?\s*\|\s*`?(?P<remote>\d{14})?\s*`?\s*\|")


class CheckError(RuntimeError):
    """The check could not run; never a pass."""


def local_migrations(directory: Path) -> dict[str, str]:
    """version -> name from the repository's files; a file that is not <14 digits>_<name>.sql is an error."""
    if not directory.is_dir():
        raise CheckError(f"--migrations-dir {directory}: not a directory")
    found = {}
    for path in sorted(directory.glob("*.sql")):
        match = FILE_NAME.match(path.name)
        if not match:
            raise CheckError(f"{path.name}: not named <UTC YYYYMMDDHHMMSS>_<name>.sql, so the CLI skips it")
        found[match["version"]] = match["name"]
    return found


def applied_from_database(url: str) -> dict[str, str | None]:
    try:
        connection = ops_record_core.connect(url)
    except ops_record_core.RecorderConfigError as error:
        raise CheckError(str(error).replace("recorder URL", URL_ENV)) from None
    except Exception as error:  # noqa: BLE001 - any failure to connect means we cannot check
        raise CheckError(f"cannot connect: {ops_record_core.describe_error(error)}") from None
    try:
        rows = connection.run("SELECT version, name FROM supabase_migrations.schema_migrations ORDER BY version")
    except Exception as error:  # noqa: BLE001
        raise CheckError(f"cannot read the migration history: {ops_record_core.describe_error(error)}") from None
    finally:
        connection.close()
    return {version: name for version, name in rows}


def applied_from_cli_output(text: str) -> tuple[set[str], set[str]]:
    """(local, remote) versions from `supabase migration list` output."""
    local, remote, rows = set(), set(), 0
    for line in text.splitlines():
        match = CLI_ROW.match(line)
        if not match or not (match["local"] or match["remote"]):
            continue
        rows += 1
        if match["local"]:
            local.add(match["local"])
        if match["remote"]:
            remote.add(match["remote"])
    if rows == 0 and "Local" not in text:
        raise CheckError("--cli-output: no `supabase migration list` table found (did the CLI fail?)")
    return local, remote


def differences(local: dict[str, str], applied: dict[str, str | None]) -> list[str]:
    problems = [f"{version}_{local[version]}.sql is in supabase/migrations/ but not applied"
                for version in sorted(set(local) - set(applied))]
    problems += [f"{version} ({applied[version] or 'no name'}) is applied in the database but not in "
                 "supabase/migrations/" for version in sorted(set(applied) - set(local))]
    problems += [f"{version}: applied as {applied[version]!r}, the file says {local[version]!r}"
                 for version in sorted(set(local) & set(applied))
                 if applied[version] is not None and applied[version] != local[version]]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.migrations_check", description=__doc__.splitlines()[0])
    parser.add_argument("--migrations-dir", type=Path, default=MIGRATIONS_DIR)
    parser.add_argument("--cli-output", type=argparse.FileType("r"),
                        help="`supabase migration list` output ('-' for stdin) instead of querying the database")
    args = parser.parse_args(argv)
    try:
        local = local_migrations(args.migrations_dir)
        if args.cli_output is not None:
            listed_local, remote = applied_from_cli_output(args.cli_output.read())
            problems = differences(local, {version: None for version in remote})
            if listed_local != set(local):
                problems.append("the CLI's Local column differs from --migrations-dir: was it run in this checkout?")
        else:
            url = os.environ.get(URL_ENV)
            if not url:
                raise CheckError(f"{URL_ENV} is not set (or give --cli-output)")
            problems = differences(local, applied_from_database(url))
    except CheckError as error:
        print(f"migrations check: cannot check: {error}", file=sys.stderr)
        return 2
    if problems:
        for problem in problems:
            print(f"::error::migrations check: {problem}")
        return 1
    print(f"migrations check: the database has exactly the {len(local)} migrations of {args.migrations_dir.name}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
