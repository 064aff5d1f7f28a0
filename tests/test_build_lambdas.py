"""tools/build_lambdas.py: the rotation archive holds the handler and its pinned packages, built reproducibly.

pip really downloads the wheels from the package index (or its cache), as `make lambdas` does.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tools import build_lambdas

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def rotation_zip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("lambdas")
    assert build_lambdas.main(["secret_rotation", "--out", str(out)]) == 0
    return out / "secret_rotation.zip"


def test_every_function_folder_is_found():
    assert {path.name for path in build_lambdas.function_dirs()} >= {"secret_rotation", "backup_monitor"}


def test_the_rotation_archive_holds_the_handler_at_its_root_and_pg8000(rotation_zip):
    names = zipfile.ZipFile(rotation_zip).namelist()

    assert "handler.py" in names
    assert any(name.startswith("pg8000/") for name in names)
    assert any(name.startswith("scramp/") for name in names)
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]
    assert names == sorted(names)


def test_the_archived_handler_is_the_source(rotation_zip):
    archived = zipfile.ZipFile(rotation_zip).read("handler.py")

    assert archived == (ROOT / "lambdas/secret_rotation/handler.py").read_bytes()


def test_entries_carry_fixed_timestamps_and_permissions(rotation_zip):
    entries = zipfile.ZipFile(rotation_zip).infolist()

    assert {entry.date_time for entry in entries} == {build_lambdas.FIXED_TIMESTAMP}
    assert {(entry.external_attr >> 16) & 0o777 for entry in entries} == {0o644}


def test_a_rebuild_gives_the_same_bytes(rotation_zip, tmp_path):
    build_lambdas.main(["secret_rotation", "--out", str(tmp_path)])

    def digest(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    assert digest(tmp_path / "secret_rotation.zip") == digest(rotation_zip)


def test_the_packaged_dependencies_import_from_the_archive_alone(rotation_zip):
    """Without site-packages (-S) and isolated (-I): pg8000 and scramp resolve only from the zip."""
    probe = ("import sys; sys.path.insert(0, sys.argv[1]); import pg8000.native, scramp; "
             "print(pg8000.native.__file__)")
    result = subprocess.run([sys.executable, "-I", "-S", "-c", probe, str(rotation_zip)],
                            capture_output=True, text=True, check=True)

    assert result.stdout.strip().startswith(str(rotation_zip))


def test_an_unknown_function_name_is_refused(tmp_path):
    with pytest.raises(SystemExit):
        build_lambdas.main(["no_such_function", "--out", str(tmp_path)])


# --- hardening (issue 19): data files travel with the handler, every pin carries its hash -----------------------


def test_the_rotation_archive_carries_the_ca_bundle_where_the_handler_looks_for_it(rotation_zip, tmp_path):
    archive = zipfile.ZipFile(rotation_zip)
    shipped = (ROOT / "lambdas/secret_rotation/certs/prod-ca-2021.crt").read_bytes()
    assert archive.read("certs/prod-ca-2021.crt") == shipped
    assert "requirements.txt" not in archive.namelist()
    archive.extractall(tmp_path)  # what Lambda does, into /var/task
    probe = "import handler; print(handler.PACKAGED_CA_FILE.is_file(), handler.PACKAGED_CA_FILE)"
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["True", str(tmp_path.resolve() / "certs/prod-ca-2021.crt")]


def test_the_functions_without_requirements_are_their_handler_alone(tmp_path):
    assert build_lambdas.main(["vercel_alert_forwarder", "--out", str(tmp_path)]) == 0
    assert zipfile.ZipFile(tmp_path / "vercel_alert_forwarder.zip").namelist() == ["handler.py"]


def test_every_ops_record_writer_ships_the_one_database_ca_its_recorder_core_and_pg8000(tmp_path):
    """The alert recorder and the backup monitor get the rotation's CA file (no second copy in git to forget) at
    the path the stack sets as PGSSLROOTCERT, and the recorder core imports from the unpacked archive."""
    from components.secrets.rotation import PACKAGED_DATABASE_CA

    shipped = (ROOT / "lambdas/secret_rotation/certs/prod-ca-2021.crt").read_bytes()
    writers = ("alert_recorder", "backup_monitor", "secret_rotation")
    assert build_lambdas.main([*writers, "--out", str(tmp_path)]) == 0
    assert not list((ROOT / "lambdas/alert_recorder").glob("certs")), "a second CA file in git"
    assert not list((ROOT / "lambdas/backup_monitor").glob("certs")), "a second CA file in git"
    for name in writers:
        archive = zipfile.ZipFile(tmp_path / f"{name}.zip")
        in_task_root = PACKAGED_DATABASE_CA.removeprefix("/var/task/")
        assert archive.read(in_task_root) == shipped, name
        assert archive.read("ops_record_core.py") == (ROOT / "tools/ops_record_core.py").read_bytes(), name
        assert any(entry.startswith("pg8000/") for entry in archive.namelist()), name
        if name == "backup_monitor":  # its archive side ships next to its handler
            assert "dump_age.py" in archive.namelist()
        unpacked = tmp_path / name
        archive.extractall(unpacked)
        probe = "import ops_record_core, handler; print(ops_record_core.TABLE_COLUMNS['alerts'][0])"
        result = subprocess.run([sys.executable, "-c", probe], cwd=unpacked, capture_output=True, text=True,
                                check=False, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(unpacked)})
        assert result.returncode == 0 and result.stdout.strip() == "environment", (name, result.stderr[-500:])


def test_every_lambda_requirement_is_pinned_with_a_hash():
    for requirements in sorted((ROOT / "lambdas").glob("*/requirements.txt")):
        logical = requirements.read_text().replace("\\\n", " ")
        entries = [line.split("#", 1)[0].strip() for line in logical.splitlines()]
        entries = [entry for entry in entries if entry]
        assert entries, requirements
        for entry in entries:
            name = entry.split()[0]
            assert "==" in entry and "--hash=sha256:" in entry, f"{requirements}: {name} lacks a pin or a hash"


@pytest.mark.parametrize(("requirement", "pip_says"), [
    ("six==1.17.0\n", "Hashes are required"),
    ("six==1.17.0 --hash=sha256:" + "0" * 64 + "\n", "DO NOT MATCH THE HASHES"),
])
def test_a_requirement_without_its_hash_or_with_another_fails_the_build(tmp_path, requirement, pip_says):
    function = tmp_path / "src" / "probe"
    function.mkdir(parents=True)
    (function / "handler.py").write_text("def lambda_handler(event, context):\n    return None\n")
    (function / "requirements.txt").write_text(requirement)
    with pytest.raises(subprocess.CalledProcessError):
        build_lambdas.build_function(function, tmp_path / "out")
    assert not (tmp_path / "out" / "probe.zip").exists()
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--require-hashes",
                             "--no-deps", *build_lambdas.PIP_PLATFORM_FLAGS, "--target", str(tmp_path / "t"),
                             "--requirement", str(function / "requirements.txt")], capture_output=True, text=True)
    assert result.returncode != 0 and pip_says in result.stderr
