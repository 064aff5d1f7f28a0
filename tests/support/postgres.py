"""A throwaway PostgreSQL 15 server for tests: a real server in a temporary directory.

`initdb` and `pg_ctl` refuse to run as root, so as root the cluster is owned by and run
as the `postgres` user; as anyone else it runs as that user. The server listens on
127.0.0.1 on a free port with SCRAM password authentication, as a hosted database does,
so a wrong or rotated-away password really fails. The superuser's password is generated
per run and never printed; `dsn()` and `connect_kwargs()` carry it.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

PG_BIN_CANDIDATES = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin")


def pg_bin_dir() -> Path:
    for candidate in (os.environ.get("PG_BIN"), *PG_BIN_CANDIDATES):
        if candidate and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise RuntimeError("PostgreSQL server binaries not found: install postgresql-15 (.ci/run does)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_server_user(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@dataclass
class PostgresServer:
    """A running server; `dsn(db)` gives a libpq URL, `psql(...)` runs SQL as the superuser."""

    bindir: Path
    datadir: Path
    port: int
    superuser: str
    superuser_password: str

    def dsn(self, database: str = "postgres", user: str | None = None, password: str | None = None) -> str:
        if user is None:
            user, password = self.superuser, self.superuser_password
        auth = user if password is None else f"{user}:{quote(password, safe='')}"
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{database}?sslmode=disable"

    def connect_kwargs(self, database: str = "postgres", user: str | None = None, password: str | None = None) -> dict:
        if user is None:
            user, password = self.superuser, self.superuser_password
        return {"host": "127.0.0.1", "port": self.port, "database": database, "user": user, "password": password}

    def psql(self, sql: str, database: str = "postgres", check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["psql", "-X", "-v", "ON_ERROR_STOP=1", "-q", "-At", self.dsn(database), "-c", sql],
            capture_output=True, text=True, check=check,
        )

    def create_database(self, prefix: str = "test") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        self.psql(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        stop = [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop"]
        subprocess.run(_as_server_user(stop), capture_output=True, check=False)


@contextlib.contextmanager
def running_postgres():
    """Start a fresh cluster, yield a PostgresServer, always stop it and delete its files."""
    bindir = pg_bin_dir()
    root = Path(tempfile.mkdtemp(prefix="kingtavo-pg-"))
    datadir = root / "data"
    superuser = "postgres"
    try:
        if os.geteuid() == 0:
            os.chmod(root, 0o755)  # noqa: S103 - the postgres user must traverse into its data directory
            pw = pwd.getpwnam("postgres")
            os.chown(root, pw.pw_uid, pw.pw_gid)
        else:
            superuser = pwd.getpwuid(os.geteuid()).pw_name
        password = "fake-pg-" + secrets.token_hex(16)
        pwfile = root / "pwfile"
        pwfile.write_text(password + "\n")
        if os.geteuid() == 0:
            os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        os.chmod(pwfile, 0o600)
        subprocess.run(
            _as_server_user([str(bindir / "initdb"), "-D", str(datadir), "-U", superuser, f"--pwfile={pwfile}",
                             "--auth-local=trust", "--auth-host=scram-sha-256",
                             "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"]),
            capture_output=True, text=True, check=True,
        )
        pwfile.unlink()
        port = _free_port()
        options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root} -c fsync=off"
        started = subprocess.run(
            _as_server_user([str(bindir / "pg_ctl"), "-D", str(datadir), "-l", str(root / "server.log"),
                             "-o", options, "-w", "-t", "60", "start"]),
            capture_output=True, text=True,
        )
        if started.returncode != 0:
            log = (root / "server.log").read_text() if (root / "server.log").exists() else ""
            raise RuntimeError(f"PostgreSQL did not start: {started.stderr}\n{log}")
        server = PostgresServer(bindir=bindir, datadir=datadir, port=port, superuser=superuser,
                                superuser_password=password)
        deadline = time.monotonic() + 30
        while server.psql("SELECT 1", check=False).returncode != 0:
            if time.monotonic() > deadline:
                raise RuntimeError("PostgreSQL started but does not accept connections")
            time.sleep(0.2)
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
