"""TLS on the tests' PostgreSQL: a throwaway CA made in the test (openssl), a server certificate for
127.0.0.1 and localhost signed by it, and `ssl = on` reloaded into the running server, so clients can be
tested verifying the certificate as they must against a hosted database. Clients that connect with
`sslmode=disable` keep working: TLS becomes available, not required.
"""

from __future__ import annotations

import os
import pwd
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.postgres import PostgresServer


@dataclass(frozen=True)
class TestCA:
    ca_cert: Path       # the CA a client trusts (sslrootcert)
    other_ca_cert: Path  # a CA that signed nothing the server shows: verification against it must fail


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _make_ca(directory: Path, name: str) -> None:
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
             "-keyout", f"{name}.key", "-out", f"{name}.crt", cwd=directory)


def enable_tls(server: PostgresServer, directory: Path) -> TestCA:
    """Make the CAs and the server certificate in `directory`, and turn TLS on in `server`."""
    directory.mkdir(parents=True, exist_ok=True)
    _make_ca(directory, "fake-test-ca")
    _make_ca(directory, "fake-other-ca")
    (directory / "san.ext").write_text("subjectAltName = IP:127.0.0.1, DNS:localhost\n")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key",
             "-out", "server.csr", cwd=directory)
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "fake-test-ca.crt", "-CAkey", "fake-test-ca.key",
             "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "server.crt", cwd=directory)
    # The server reads its key and certificate as its own user, and refuses a key others can read.
    server_dir = server.datadir.parent / "tls"
    server_dir.mkdir(exist_ok=True)
    for name in ("server.key", "server.crt"):
        target = server_dir / name
        target.write_bytes((directory / name).read_bytes())
        os.chmod(target, 0o600)
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(target, owner.pw_uid, owner.pw_gid)
    if os.geteuid() == 0:
        os.chown(server_dir, pwd.getpwnam("postgres").pw_uid, pwd.getpwnam("postgres").pw_gid)
    server.psql(f"ALTER SYSTEM SET ssl_cert_file = '{server_dir / 'server.crt'}'")
    server.psql(f"ALTER SYSTEM SET ssl_key_file = '{server_dir / 'server.key'}'")
    server.psql("ALTER SYSTEM SET ssl = on")
    server.psql("SELECT pg_reload_conf()")
    return TestCA(ca_cert=directory / "fake-test-ca.crt", other_ca_cert=directory / "fake-other-ca.crt")
