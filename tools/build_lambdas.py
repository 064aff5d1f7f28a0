"""Build the Lambda archives the stack deploys: `build/lambdas/<name>.zip` for every folder in `lambdas/`.

Each archive holds the folder's files at its root, subfolders included (the stack's handler is
`handler.lambda_handler`; data such as the rotation's `certs/` CA bundle sits next to it), and, when
the folder has a `requirements.txt`, those packages installed by pip as wheels for the Lambda
runtime (`python3.12` on x86_64, manylinux2014), never built from source, never compiled to
`.pyc`, whatever Python runs this tool, and only if every pin carries its hash
(`--require-hashes`): a changed or substituted wheel fails the build.

The archives are deterministic: entries sorted, every timestamp 1980-01-01, fixed permissions,
no `__pycache__`. The same sources and pins give the same bytes, so `pulumi up` sees no code
change (and deploys nothing) unless the code or a pin changed.

A function that writes the ops record (its handler imports `ops_record_core`) gets tools/ops_record_core.py, the
one copy, next to its handler, and Supabase's CA from
`lambdas/secret_rotation/certs/` at the same path, `certs/prod-ca-2021.crt` (one file to replace, not one per
function).

    python -m tools.build_lambdas                   # every function, into build/lambdas/
    python -m tools.build_lambdas secret_rotation   # one function
    python -m tools.build_lambdas --out /tmp/zips   # elsewhere
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAMBDAS_DIR = ROOT / "lambdas"
DEFAULT_OUT = ROOT / "build" / "lambdas"

# The Lambda runtime the stack declares (`runtime="python3.12"`, x86_64).
PIP_PLATFORM_FLAGS = ("--platform", "manylinux2014_x86_64", "--implementation", "cp", "--python-version", "3.12",
                      "--only-binary=:all:")
FIXED_TIMESTAMP = (1980, 1, 1, 0, 0, 0)  # the earliest a zip entry can carry
FILE_MODE = 0o644
SKIPPED_PARTS = frozenset({"__pycache__"})
SKIPPED_SUFFIXES = (".pyc", ".pyo")
NOT_PACKAGED = frozenset({"requirements.txt"})  # installed, not shipped
# Supabase's root CA, kept once (tools/readiness.py checks it is a certificate, not the placeholder). A function
# that writes the ops record (its handler imports ops_record_core) gets a copy at the same path inside its archive,
# so PGSSLROOTCERT is /var/task/certs/prod-ca-2021.crt for every writer, and the recorder core beside its handler.
DATABASE_CA = LAMBDAS_DIR / "secret_rotation" / "certs" / "prod-ca-2021.crt"
DATABASE_CA_IN_ARCHIVE = "certs/prod-ca-2021.crt"
OPS_RECORD_MODULE = Path(__file__).resolve().parent / "ops_record_core.py"


def writes_ops_record(function_dir: Path) -> bool:
    return re.search(r"^\s*import ops_record_core\b", (function_dir / "handler.py").read_text(), re.M) is not None


def function_dirs(lambdas_dir: Path = LAMBDAS_DIR) -> list[Path]:
    """Every function folder: a folder of `lambdas/` with a `handler.py`."""
    return sorted(path for path in lambdas_dir.iterdir() if (path / "handler.py").is_file())


def install_requirements(requirements: Path, target: Path) -> None:
    """pip-install the pinned, hashed requirements into `target` as Lambda-runtime wheels.

    `--no-deps`: the file lists the whole closure, each with its hash, so nothing unpinned comes in."""
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
         "--require-hashes", "--no-deps", "--target", str(target), *PIP_PLATFORM_FLAGS,
         "--requirement", str(requirements)],
        check=True)


def archive_files(staging: Path) -> Iterator[tuple[Path, str]]:
    """(file, name in the archive) for every file to package, sorted by name."""
    files = (path for path in staging.rglob("*") if path.is_file())
    kept = (path for path in files
            if not SKIPPED_PARTS.intersection(path.relative_to(staging).parts) and path.suffix not in SKIPPED_SUFFIXES)
    yield from sorted(((path, path.relative_to(staging).as_posix()) for path in kept), key=lambda item: item[1])


def write_deterministic_zip(staging: Path, archive: Path) -> None:
    """The zip of `staging`: sorted entries, fixed timestamps and permissions, deflated."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        for path, name in archive_files(staging):
            entry = zipfile.ZipInfo(name, date_time=FIXED_TIMESTAMP)
            entry.external_attr = (0o100000 | FILE_MODE) << 16  # a regular file, rw-r--r--
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.create_system = 3  # Unix, so that the permissions above are read as such
            zipped.writestr(entry, path.read_bytes())


def build_function(function_dir: Path, out_dir: Path) -> Path:
    """Build one function's archive; returns its path (`<out_dir>/<folder name>.zip`)."""
    with tempfile.TemporaryDirectory(prefix=f"lambda-{function_dir.name}-") as tmp:
        staging = Path(tmp)
        requirements = function_dir / "requirements.txt"
        if requirements.is_file():
            install_requirements(requirements, staging)
        for source, name in archive_files(function_dir):
            if name not in NOT_PACKAGED:
                (staging / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, staging / name)
        if writes_ops_record(function_dir):
            shutil.copyfile(OPS_RECORD_MODULE, staging / OPS_RECORD_MODULE.name)
            if not (staging / DATABASE_CA_IN_ARCHIVE).is_file():
                (staging / DATABASE_CA_IN_ARCHIVE).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(DATABASE_CA, staging / DATABASE_CA_IN_ARCHIVE)
        archive = out_dir / f"{function_dir.name}.zip"
        write_deterministic_zip(staging, archive)
    return archive


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build build/lambdas/<name>.zip for the functions in lambdas/")
    parser.add_argument("names", nargs="*", help="function folders to build (default: all)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: build/lambdas)")
    args = parser.parse_args(argv)
    available = {path.name: path for path in function_dirs()}
    unknown = sorted(set(args.names) - set(available))
    if unknown:
        parser.error(f"no function folder named {', '.join(unknown)} in lambdas/ (have: {', '.join(available)})")
    for name in args.names or sorted(available):
        print(build_function(available[name], args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
