"""TLS for the test PostgreSQL server: a throwaway CA and server certificate made with `cryptography`.

`make_ca()` creates a self-signed CA, `issue_server_cert(ca, dns_names)` a server certificate
signed by it, and `enable_tls(server, cert)` turns `ssl = on` on a running server
(tests/support/postgres.py) with that certificate, by `ALTER SYSTEM` and a reload. Keys live only
in memory and in the server's temporary data directory; nothing is written to the repository.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key, both PEM."""

    cert_pem: bytes
    key_pem: bytes
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _issued(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> Issued:
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return Issued(cert.public_bytes(serialization.Encoding.PEM), key_pem, cert, key)


def make_ca(common_name: str = "kingtavo test CA") -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name(common_name)).issuer_name(_name(common_name))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return _issued(cert, key)


def issue_server_cert(ca: Issued, dns_names: list[str]) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name(dns_names[0])).issuer_name(ca.cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name) for name in dns_names]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
            .sign(ca.key, hashes.SHA256()))
    return _issued(cert, key)


def _write_for_server(path: Path, data: bytes, datadir: Path) -> None:
    """Write a file the server process can read (and only it, for the key: PostgreSQL insists)."""
    path.write_bytes(data)
    os.chmod(path, 0o600)
    if os.geteuid() == 0:  # the server runs as the data directory's owner (as anyone else: as this user)
        owner = datadir.stat()
        os.chown(path, owner.st_uid, owner.st_gid)


def enable_tls(server, issued: Issued) -> None:
    """Turn TLS on for a running tests.support.postgres server with this certificate (ALTER SYSTEM + reload)."""
    cert_path, key_path = server.datadir / "test-server.crt", server.datadir / "test-server.key"
    _write_for_server(cert_path, issued.cert_pem, server.datadir)
    _write_for_server(key_path, issued.key_pem, server.datadir)
    for statement in (f"ALTER SYSTEM SET ssl_cert_file = '{cert_path}'",
                      f"ALTER SYSTEM SET ssl_key_file = '{key_path}'",
                      "ALTER SYSTEM SET ssl = on", "SELECT pg_reload_conf()"):
        server.psql(statement)
    deadline = time.monotonic() + 10  # the reload is a signal: the postmaster applies it shortly after
    while server.psql("SHOW ssl").stdout.strip() != "on":
        if time.monotonic() > deadline:
            raise RuntimeError("PostgreSQL did not turn TLS on: see its server.log")
        time.sleep(0.1)
