"""Persistence of dossiers, pieces and their status history (DESIGN section 5).

SQLAlchemy 2.0 on SQLite (default, a file under the data folder) or PostgreSQL (several
workers). The schema is created by the Alembic migrations shipped inside the package;
``DossierStore.migrate()`` runs them, no ``alembic.ini`` needed.

Every write happens in a short transaction (``DossierStore.transaction()``); a unique
constraint broken by a concurrent worker surfaces as ``StoreConflict``, never as a driver
error. The status history is append-only: there is no method to change or remove an
event, and the database refuses it too (triggers of the first migration).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    Date,
    DateTime,
    Dialect,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    String,
    TypeDecorator,
    UniqueConstraint,
    create_engine,
    event,
    make_url,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeEngine

from pipeline.models import Frozen
from pipeline.route.dossier import Status, check_transition
from pipeline.settings import Settings

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

# Any constant will do: it only serialises concurrent migrate() calls on one database.
_MIGRATION_LOCK_KEY = 0x1A7A6E_D055


# --------------------------------------------------------------------------- column types


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored as UTC and read back as UTC.

    SQLite keeps no offset: the value is written in UTC and the offset restored on read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("the store only takes timezone-aware datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Amount(TypeDecorator[Decimal]):
    """Money, NUMERIC(19, 2); a string on SQLite, whose numbers are binary floats."""

    impl = Numeric(19, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String())
        return dialect.type_descriptor(Numeric(19, 2, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return f"{value:.2f}" if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


# --------------------------------------------------------------------------- tables

_NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=_NAMING)


class DossierRow(Base):
    __tablename__ = "dossiers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String, unique=True)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime)
    supplier_siret: Mapped[str] = mapped_column(String)
    recipient_siret: Mapped[str | None] = mapped_column(String)
    moe_siret: Mapped[str | None] = mapped_column(String)
    moa_siret: Mapped[str | None] = mapped_column(String)


class PieceRow(Base):
    __tablename__ = "pieces"
    # The platform's anti-duplicate rule: one number per supplier and year.
    __table_args__ = (
        UniqueConstraint(
            "supplier_siret", "invoice_number", "issue_year", name="uq_pieces_reference"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"), index=True)
    cadre: Mapped[str] = mapped_column(String)
    document_kind: Mapped[str] = mapped_column(String)
    invoice_number: Mapped[str] = mapped_column(String)
    issue_date: Mapped[date | None] = mapped_column(Date)
    issue_year: Mapped[int] = mapped_column(Integer)
    supplier_siret: Mapped[str] = mapped_column(String)
    recipient_siret: Mapped[str | None] = mapped_column(String)
    sha256: Mapped[str] = mapped_column(String, index=True)
    status: Mapped[str] = mapped_column(String)
    total_excl_tax: Mapped[Decimal | None] = mapped_column(Amount)
    total_tax: Mapped[Decimal | None] = mapped_column(Amount)
    total_incl_tax: Mapped[Decimal | None] = mapped_column(Amount)
    amount_due: Mapped[Decimal | None] = mapped_column(Amount)
    deposited_at: Mapped[datetime] = mapped_column(UtcDateTime)
    made_available_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    payment_deadline: Mapped[date | None] = mapped_column(Date)
    certificate_number: Mapped[str | None] = mapped_column(String)


class StatusEventRow(Base):
    __tablename__ = "status_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    piece_id: Mapped[int] = mapped_column(ForeignKey("pieces.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String)
    from_status: Mapped[str | None] = mapped_column(String)
    to_status: Mapped[str] = mapped_column(String)
    reason: Mapped[str | None] = mapped_column(String)


# --------------------------------------------------------------------------- records


class DossierRecord(Frozen):
    """A dossier de facturation as stored."""

    id: int
    number: str
    opened_at: datetime
    supplier_siret: str
    recipient_siret: str | None
    moe_siret: str | None
    moa_siret: str | None


class NewPiece(Frozen):
    """What the router files; amounts are canonical decimal strings (``"7850.00"``)."""

    cadre: str
    document_kind: str
    invoice_number: str
    issue_date: date | None
    issue_year: int
    supplier_siret: str
    recipient_siret: str | None
    sha256: str
    total_excl_tax: str | None = None
    total_tax: str | None = None
    total_incl_tax: str | None = None
    amount_due: str | None = None
    deposited_at: datetime
    made_available_at: datetime | None = None
    payment_deadline: date | None = None
    certificate_number: str | None = None


class PieceRecord(NewPiece):
    """A stored piece, with its dossier's number and its current status."""

    id: int
    dossier_id: int
    dossier_number: str
    status: Status


class StatusEvent(Frozen):
    """One row of a piece's history: who moved it, when, from what to what, why."""

    id: int
    piece_id: int
    at: datetime
    actor: str
    from_status: Status | None
    to_status: Status
    reason: str | None


class DossierView(Frozen):
    """A dossier with its pieces and their history, oldest first."""

    dossier: DossierRecord
    pieces: tuple[PieceRecord, ...]
    history: tuple[StatusEvent, ...]


_AMOUNTS = ("total_excl_tax", "total_tax", "total_incl_tax", "amount_due")


def _amount_in(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _amount_out(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _dossier_record(row: DossierRow) -> DossierRecord:
    return DossierRecord(
        id=row.id,
        number=row.number,
        opened_at=row.opened_at,
        supplier_siret=row.supplier_siret,
        recipient_siret=row.recipient_siret,
        moe_siret=row.moe_siret,
        moa_siret=row.moa_siret,
    )


def _piece_record(row: PieceRow, dossier_number: str) -> PieceRecord:
    values = {name: getattr(row, name) for name in NewPiece.model_fields}
    values.update({name: _amount_out(getattr(row, name)) for name in _AMOUNTS})
    return PieceRecord(
        **values,
        id=row.id,
        dossier_id=row.dossier_id,
        dossier_number=dossier_number,
        status=Status(row.status),
    )


def _event_record(row: StatusEventRow) -> StatusEvent:
    return StatusEvent(
        id=row.id,
        piece_id=row.piece_id,
        at=row.at,
        actor=row.actor,
        from_status=Status(row.from_status) if row.from_status else None,
        to_status=Status(row.to_status),
        reason=row.reason,
    )


# --------------------------------------------------------------------------- store


class StoreConflict(RuntimeError):
    """A unique constraint refused the write: another worker filed the same thing first.
    The transaction was rolled back; look again and decide."""


class StoreTransaction:
    """The operations of one transaction; get one from ``DossierStore.transaction()``."""

    def __init__(self, session: Session) -> None:
        self._session = session

    # ---- reads

    def find_piece(
        self, *, supplier_siret: str, invoice_number: str, issue_year: int
    ) -> PieceRecord | None:
        """The piece with this number from this supplier in this year, if any."""
        query = (
            select(PieceRow, DossierRow.number)
            .join(DossierRow, PieceRow.dossier_id == DossierRow.id)
            .where(
                PieceRow.supplier_siret == supplier_siret,
                PieceRow.invoice_number == invoice_number,
                PieceRow.issue_year == issue_year,
            )
        )
        found = self._session.execute(query).first()
        return _piece_record(found[0], found[1]) if found else None

    def find_piece_by_sha256(self, sha256: str) -> PieceRecord | None:
        """The first piece filed from a file with these bytes, if any."""
        query = (
            select(PieceRow, DossierRow.number)
            .join(DossierRow, PieceRow.dossier_id == DossierRow.id)
            .where(PieceRow.sha256 == sha256)
            .order_by(PieceRow.id)
            .limit(1)
        )
        found = self._session.execute(query).first()
        return _piece_record(found[0], found[1]) if found else None

    def dossier_number_taken(self, number: str) -> bool:
        query = select(DossierRow.id).where(DossierRow.number == number)
        return self._session.execute(query).first() is not None

    def get_dossier(self, number: str) -> DossierView | None:
        """The dossier with its pieces and their history, in the order they happened."""
        dossier = self._session.scalars(
            select(DossierRow).where(DossierRow.number == number)
        ).first()
        if dossier is None:
            return None
        pieces = self._session.scalars(
            select(PieceRow).where(PieceRow.dossier_id == dossier.id).order_by(PieceRow.id)
        ).all()
        events = self._session.scalars(
            select(StatusEventRow)
            .join(PieceRow, StatusEventRow.piece_id == PieceRow.id)
            .where(PieceRow.dossier_id == dossier.id)
            # Insertion order is the history's order: events of one instant keep theirs.
            .order_by(StatusEventRow.id)
        ).all()
        return DossierView(
            dossier=_dossier_record(dossier),
            pieces=tuple(_piece_record(p, dossier.number) for p in pieces),
            history=tuple(_event_record(e) for e in events),
        )

    # ---- writes

    def open_dossier(
        self,
        *,
        number: str,
        opened_at: datetime,
        supplier_siret: str,
        recipient_siret: str | None = None,
        moe_siret: str | None = None,
        moa_siret: str | None = None,
    ) -> DossierRecord:
        row = DossierRow(
            number=number,
            opened_at=opened_at,
            supplier_siret=supplier_siret,
            recipient_siret=recipient_siret,
            moe_siret=moe_siret,
            moa_siret=moa_siret,
        )
        self._session.add(row)
        self._session.flush()
        return _dossier_record(row)

    def add_piece(
        self,
        dossier_id: int,
        piece: NewPiece,
        *,
        status: Status,
        actor: str,
        at: datetime,
        reason: str | None = None,
    ) -> PieceRecord:
        """File a piece in a dossier, with the first event of its history."""
        check_transition(None, status)
        dossier = self._session.get_one(DossierRow, dossier_id)
        values = piece.model_dump()
        values.update({name: _amount_in(getattr(piece, name)) for name in _AMOUNTS})
        row = PieceRow(**values, dossier_id=dossier_id, status=status.value)
        self._session.add(row)
        self._session.flush()
        self._record(row, None, status, actor=actor, at=at, reason=reason)
        return _piece_record(row, dossier.number)

    def append_event(
        self, piece_id: int, *, to_status: Status, actor: str, at: datetime, reason: str | None
    ) -> StatusEvent:
        """Move a piece to ``to_status`` and record it; ``InvalidTransition`` if the state
        machine does not allow it. The piece row is locked so that concurrent moves of one
        piece happen one after the other."""
        row = self._session.scalars(
            select(PieceRow).where(PieceRow.id == piece_id).with_for_update()
        ).first()
        if row is None:
            raise LookupError(f"no piece with id {piece_id}")
        from_status = Status(row.status)
        check_transition(from_status, to_status)
        row.status = to_status.value
        return self._record(row, from_status, to_status, actor=actor, at=at, reason=reason)

    def _record(
        self,
        piece: PieceRow,
        from_status: Status | None,
        to_status: Status,
        *,
        actor: str,
        at: datetime,
        reason: str | None,
    ) -> StatusEvent:
        event_row = StatusEventRow(
            piece_id=piece.id,
            at=at,
            actor=actor,
            from_status=from_status.value if from_status else None,
            to_status=to_status.value,
            reason=reason,
        )
        self._session.add(event_row)
        self._session.flush()
        return _event_record(event_row)


def _sqlite_engine(url: str) -> Engine:
    parsed = make_url(url)
    database = parsed.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
    if not in_memory:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        parsed,
        # One connection for an in-memory database, or each would see an empty one.
        poolclass=StaticPool if in_memory else None,
        connect_args={"timeout": 30, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy issue BEGIN itself (below) instead of the driver's lazy BEGIN.
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA foreign_keys = ON")

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Take the write lock up front: a deferred transaction that reads and then writes
        # fails at once with "database is locked" when another worker writes meanwhile.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class DossierStore:
    """Dossiers, pieces and status history in one SQL database."""

    def __init__(self, url: str) -> None:
        self.url = url
        if make_url(url).get_backend_name() == "sqlite":
            self._engine = _sqlite_engine(url)
        else:
            self._engine = create_engine(url, pool_pre_ping=True)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> DossierStore:
        """The store named by the settings: ``INTAKE_DB_URL``, or SQLite in the data folder."""
        return cls(settings.resolved_db_url)

    def migrate(self) -> None:
        """Bring the schema to the latest migration (safe to call from several workers)."""
        config = Config()
        # configparser interpolation: a % in the path must be doubled.
        config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
        with self._engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
                )
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    @contextmanager
    def transaction(self) -> Iterator[StoreTransaction]:
        """One short transaction: committed at the end of the block, rolled back on error.
        Raises ``StoreConflict`` when a unique constraint refused a write."""
        try:
            with self._sessions.begin() as session:
                yield StoreTransaction(session)
        except IntegrityError as exc:
            raise StoreConflict(str(exc.orig)) from exc

    def find_piece(
        self, *, supplier_siret: str, invoice_number: str, issue_year: int
    ) -> PieceRecord | None:
        with self.transaction() as tx:
            return tx.find_piece(
                supplier_siret=supplier_siret, invoice_number=invoice_number, issue_year=issue_year
            )

    def find_piece_by_sha256(self, sha256: str) -> PieceRecord | None:
        with self.transaction() as tx:
            return tx.find_piece_by_sha256(sha256)

    def get_dossier(self, number: str) -> DossierView | None:
        with self.transaction() as tx:
            return tx.get_dossier(number)

    def append_event(
        self,
        piece_id: int,
        *,
        to_status: Status,
        actor: str,
        at: datetime,
        reason: str | None = None,
    ) -> StatusEvent:
        with self.transaction() as tx:
            return tx.append_event(piece_id, to_status=to_status, actor=actor, at=at, reason=reason)

    def close(self) -> None:
        """Close the pooled connections."""
        self._engine.dispose()
