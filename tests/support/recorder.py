"""The ops record as its writers meet it: a migrated Supabase-shaped database on a PostgreSQL server of its
own with TLS on (its own, so the session's shared server keeps answering plain TCP as other tests expect),
and the recorder login (`ops_recorder_login`, created by the migration without a password) given a
generated password the way the operator does once per database. Writers connect as that login with
`sslmode=verify-full` against the test's CA, never as the superuser.

Import the fixture into a test module: `from tests.support.recorder import recorder_db  # noqa: F401`.
"""

from __future__ import annotations

import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pg8000.native
import pytest

from tests.support.pg_tls import TestCA, enable_tls
from tests.support.postgres import PostgresServer, running_postgres
from tests.support.supabase_db import supabase_database

LOGIN = "ops_recorder_login"


@dataclass(frozen=True)
class RecorderDB:
    server: PostgresServer
    database: str
    password: str
    ca: TestCA

    def url(self, sslmode: str = "verify-full", password: str | None = None, host: str = "127.0.0.1",
            cafile: Path | None = None) -> str:
        secret = quote(self.password if password is None else password, safe="")
        query = f"sslmode={sslmode}"
        if sslmode != "disable":
            query += f"&sslrootcert={cafile or self.ca.ca_cert}"
        return f"postgresql://{LOGIN}:{secret}@{host}:{self.server.port}/{self.database}?{query}"

    def rows(self, sql: str, **params) -> list[list]:
        """Read as the superuser (the check of what the recorder wrote; never how a writer connects)."""
        connection = pg8000.native.Connection(**self.server.connect_kwargs(self.database))
        try:
            return connection.run(sql, **params)
        finally:
            connection.close()


@pytest.fixture(scope="session")
def recorder_db() -> RecorderDB:
    with running_postgres() as server, tempfile.TemporaryDirectory(prefix="kingtavo-tls-") as tls_dir:
        database = server.create_database("recorder")
        supabase_database(server, database)
        # A generated password with the characters that break naive URL parsing: @ / : % + and a space.
        password = "fake-rec@/:%+ " + secrets.token_urlsafe(18)
        escaped = password.replace("'", "''")
        server.psql(f"ALTER ROLE {LOGIN} PASSWORD '{escaped}'")
        ca = enable_tls(server, Path(tls_dir))
        yield RecorderDB(server=server, database=database, password=password, ca=ca)
