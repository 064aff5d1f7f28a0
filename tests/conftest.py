"""Shared fixtures. The PostgreSQL server is started once per test session, on demand."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.postgres import running_postgres  # noqa: E402


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL 15 server for the whole session (see tests/support/postgres.py)."""
    with running_postgres() as server:
        yield server


@pytest.fixture
def scratch_db(postgres):
    """A fresh, empty database on the session server, dropped after the test."""
    name = postgres.create_database()
    yield name
    postgres.drop_database(name)
