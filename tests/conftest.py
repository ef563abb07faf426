"""Shared test set-up: environment, the public corpus, the demo fixtures."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import OperationalError

from pipeline.route.store import DossierStore

# Before Prefect or Tesseract are imported anywhere (see ../shared/stack.md).
os.environ.setdefault("OMP_THREAD_LIMIT", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="intake-prefect-"))

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "fixtures" / "demo"
CORPUS = REPO.parent / "shared" / "corpus"
PG_URL = os.environ.get("INTAKE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def corpus_path(*parts: str) -> Path:
    """A path in the shared public corpus; skip visibly when it is absent, fail under CI."""
    if not CORPUS.is_dir():
        message = f"{CORPUS} not found: corpus tests need ../shared/corpus beside the clone"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return CORPUS.joinpath(*parts)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite tests/golden/*.json from the current output instead of comparing",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


# --------------------------------------------------------------------------- dossier store
# Store tests run on both backends. PostgreSQL tests get a fresh schema each (parallel
# workers never meet); when the server cannot be reached they are skipped with the
# reason, or fail when the CI environment variable is set.


def _postgres_schema_url() -> Iterator[str]:
    admin = create_engine(PG_URL, connect_args={"connect_timeout": 3})
    try:
        with admin.connect():
            pass
    except OperationalError as exc:
        admin.dispose()
        reason = f"PostgreSQL not reachable at {PG_URL}: {' '.join(str(exc.orig).split())}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    schema = f"test_route_{uuid.uuid4().hex[:12]}"
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database: a SQLite file (in a folder not yet made) or a fresh
    PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'var' / 'dossiers.sqlite'}"
    else:
        yield from _postgres_schema_url()


@pytest.fixture
def store(store_url: str) -> Iterator[DossierStore]:
    dossier_store = DossierStore(store_url)
    dossier_store.migrate()
    try:
        yield dossier_store
    finally:
        dossier_store.close()
