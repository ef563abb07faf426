"""Alembic environment of the dossier store.

``DossierStore.migrate()`` hands over an open connection in ``config.attributes``; the
``alembic`` command line (for writing new revisions) connects to ``sqlalchemy.url``.
"""

from alembic import context
from sqlalchemy import Connection, create_engine

from pipeline.route.store import Base

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things: later migrations copy-and-move tables.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=Base.metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()
elif (given := config.attributes.get("connection")) is not None:
    _run(given)
else:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set sqlalchemy.url, or run the migrations with DossierStore.migrate()")
    with create_engine(url).begin() as connection:
        _run(connection)
