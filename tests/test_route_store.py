"""The dossier store on SQLite and PostgreSQL.

Every test runs on both backends. PostgreSQL tests get a fresh schema each (parallel
workers never meet); when the server cannot be reached they are skipped with the reason,
or fail when the CI environment variable is set.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import DBAPIError

from pipeline.route.dossier import InvalidTransition, Status
from pipeline.route.store import MIGRATIONS_DIR, Base, DossierStore, NewPiece, StoreConflict
from pipeline.settings import Settings

PG_URL = os.environ.get("INTAKE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

T0 = datetime(2024, 7, 1, 10, 0, tzinfo=UTC)


def new_piece(**overrides: object) -> NewPiece:
    values: dict[str, object] = {
        "cadre": "A1",
        "document_kind": "invoice",
        "invoice_number": "F-2024-001",
        "issue_date": date(2024, 6, 28),
        "issue_year": 2024,
        "supplier_siret": "53819959700013",
        "recipient_siret": "21750001608202",
        "sha256": "a" * 64,
        "total_excl_tax": "7850.00",
        "total_tax": "1570.00",
        "total_incl_tax": "9420.00",
        "amount_due": "9420.00",
        "deposited_at": T0,
        "made_available_at": T0,
    }
    values.update(overrides)
    return NewPiece.model_validate(values)


def file_piece(store: DossierStore, number: str = "F-2024-001", **overrides: object) -> int:
    with store.transaction() as tx:
        dossier = tx.open_dossier(number=number, opened_at=T0, supplier_siret="53819959700013")
        piece = tx.add_piece(
            dossier.id,
            new_piece(invoice_number=number, **overrides),
            status=Status.DEPOSEE,
            actor="supplier",
            at=T0,
        )
    return piece.id


# --------------------------------------------------------------------------- schema


def test_migrate_creates_the_sqlite_folder_and_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a' / 'b' / 'dossiers.sqlite'}"
    store = DossierStore(url)
    store.migrate()
    store.migrate()
    store.close()
    assert (tmp_path / "a" / "b" / "dossiers.sqlite").is_file()


def test_default_url_comes_from_the_settings(tmp_path: Path) -> None:
    store = DossierStore.from_settings(Settings(data_dir=tmp_path / "data"))
    store.migrate()
    store.close()
    assert (tmp_path / "data" / "dossiers.sqlite").is_file()


def test_in_memory_sqlite_works() -> None:
    store = DossierStore("sqlite://")
    store.migrate()
    file_piece(store)
    assert store.get_dossier("F-2024-001") is not None
    store.close()


def test_migrations_match_the_models(store: DossierStore, store_url: str) -> None:
    store.migrate()  # again: a no-op
    engine = create_engine(store_url)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    engine.dispose()
    assert version == "0001"


def test_migrations_go_down_and_up_again(store: DossierStore, store_url: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    engine = create_engine(store_url)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "base")
        with engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) == {"alembic_version"}
    finally:
        engine.dispose()
    store.migrate()
    file_piece(store)


# --------------------------------------------------------------------------- pieces


def test_dossier_with_piece_and_history(store: DossierStore) -> None:
    piece_id = file_piece(store)
    later = T0 + timedelta(minutes=1)
    store.append_event(
        piece_id, to_status=Status.MISE_A_DISPOSITION, actor="platform", at=later, reason="ok"
    )

    view = store.get_dossier("F-2024-001")
    assert view is not None
    assert view.dossier.supplier_siret == "53819959700013"
    assert view.dossier.opened_at == T0
    (piece,) = view.pieces
    assert piece.id == piece_id
    assert piece.dossier_number == "F-2024-001"
    assert piece.status is Status.MISE_A_DISPOSITION
    assert piece.total_excl_tax == "7850.00"
    assert piece.amount_due == "9420.00"
    assert piece.issue_date == date(2024, 6, 28)
    assert [(e.from_status, e.to_status, e.actor) for e in view.history] == [
        (None, Status.DEPOSEE, "supplier"),
        (Status.DEPOSEE, Status.MISE_A_DISPOSITION, "platform"),
    ]
    assert view.history[1].reason == "ok"


def test_timestamps_come_back_as_utc(store: DossierStore) -> None:
    paris = datetime(2024, 7, 1, 12, 0, tzinfo=UTC).astimezone()  # any offset
    piece_id = file_piece(store, deposited_at=paris)
    view = store.get_dossier("F-2024-001")
    assert view is not None
    deposited = view.pieces[0].deposited_at
    assert deposited.tzinfo is not None and deposited.utcoffset() == timedelta(0)
    assert deposited == paris
    assert all(e.at.utcoffset() == timedelta(0) for e in view.history)
    assert view.pieces[0].id == piece_id


def test_naive_datetimes_are_refused(store: DossierStore) -> None:
    with pytest.raises(Exception, match="timezone-aware"), store.transaction() as tx:
        tx.open_dossier(number="X", opened_at=datetime(2024, 7, 1), supplier_siret="1")


def test_big_amounts_keep_every_cent(store: DossierStore) -> None:
    file_piece(store, total_excl_tax="99999999999999999.99", total_tax="0.01")
    view = store.get_dossier("F-2024-001")
    assert view is not None
    assert view.pieces[0].total_excl_tax == "99999999999999999.99"
    assert view.pieces[0].total_tax == "0.01"
    assert view.pieces[0].total_incl_tax == "9420.00"


def test_find_by_reference_and_by_sha256(store: DossierStore) -> None:
    file_piece(store)
    found = store.find_piece(
        supplier_siret="53819959700013", invoice_number="F-2024-001", issue_year=2024
    )
    assert found is not None and found.dossier_number == "F-2024-001"
    assert (
        store.find_piece(
            supplier_siret="53819959700013", invoice_number="F-2024-001", issue_year=2023
        )
        is None
    )
    by_file = store.find_piece_by_sha256("a" * 64)
    assert by_file is not None and by_file.id == found.id
    assert store.find_piece_by_sha256("b" * 64) is None
    assert store.get_dossier("nope") is None


def test_same_reference_twice_is_a_conflict_and_nothing_is_left(store: DossierStore) -> None:
    file_piece(store)
    with pytest.raises(StoreConflict), store.transaction() as tx:
        dossier = tx.open_dossier(number="OTHER", opened_at=T0, supplier_siret="53819959700013")
        tx.add_piece(
            dossier.id, new_piece(sha256="b" * 64), status=Status.DEPOSEE, actor="s", at=T0
        )
    # The whole transaction was rolled back, dossier included.
    assert store.get_dossier("OTHER") is None


def test_dossier_number_is_unique(store: DossierStore) -> None:
    file_piece(store)
    with pytest.raises(StoreConflict), store.transaction() as tx:
        tx.open_dossier(number="F-2024-001", opened_at=T0, supplier_siret="83807263500017")
    with store.transaction() as tx:
        assert tx.dossier_number_taken("F-2024-001")
        assert not tx.dossier_number_taken("F-2024-001-2")


# --------------------------------------------------------------------------- history


def test_invalid_transition_is_refused_and_not_recorded(store: DossierStore) -> None:
    piece_id = file_piece(store)
    with pytest.raises(InvalidTransition):
        store.append_event(piece_id, to_status=Status.ASSOCIEE, actor="moe", at=T0)
    view = store.get_dossier("F-2024-001")
    assert view is not None
    assert [e.to_status for e in view.history] == [Status.DEPOSEE]
    assert view.pieces[0].status is Status.DEPOSEE


def test_a_piece_cannot_start_made_available(store: DossierStore) -> None:
    with pytest.raises(InvalidTransition), store.transaction() as tx:
        dossier = tx.open_dossier(number="X", opened_at=T0, supplier_siret="1")
        tx.add_piece(dossier.id, new_piece(), status=Status.MISE_A_DISPOSITION, actor="s", at=T0)


def test_event_for_an_unknown_piece(store: DossierStore) -> None:
    with pytest.raises(LookupError):
        store.append_event(999, to_status=Status.DEPOSEE, actor="x", at=T0)


def test_history_has_no_update_or_delete_method(store: DossierStore) -> None:
    with store.transaction() as tx:
        names = {n for n in dir(tx) if not n.startswith("_")}
    names |= {n for n in dir(store) if not n.startswith("_")}
    assert not {n for n in names if n.startswith(("update", "delete", "remove", "edit"))}


@pytest.mark.parametrize(
    "statement", ["UPDATE status_events SET actor = 'x'", "DELETE FROM status_events"]
)
def test_database_refuses_to_rewrite_history(
    store: DossierStore, store_url: str, statement: str
) -> None:
    file_piece(store)
    engine = create_engine(store_url)
    try:
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()
    view = store.get_dossier("F-2024-001")
    assert view is not None and len(view.history) == 1
