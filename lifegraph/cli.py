"""The ``lifegraph`` command: serve, migrate, create-admin, export-schema."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import signal
import sys
from pathlib import Path

from pydantic import ValidationError

from lifegraph.logs import configure_logging
from lifegraph.settings import Settings

logger = logging.getLogger("lifegraph")


def database_url(settings: Settings) -> str:
    """``DATABASE_URL`` when set, otherwise the embedded server (started on demand)."""
    if settings.database_url:
        return settings.database_url
    from lifegraph import embedded

    logger.info("no DATABASE_URL: starting the embedded PostgreSQL in %s", settings.pgdata)
    return embedded.start(settings.pgdata)


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from lifegraph.app import server_options
    from lifegraph.metrics import share_between_workers
    from lifegraph.migrate import upgrade

    settings = Settings()
    url = database_url(settings)
    if not args.no_migrate:
        upgrade(url)
    # The app factory reads its settings from the environment, in every worker process.
    os.environ["DATABASE_URL"] = url
    if not settings.database_url:
        # Embedded: one command is enough, so the server runs the job worker as well.
        os.environ.setdefault("LIFEGRAPH_IN_PROCESS_WORKER", "true")
    share_between_workers(settings, args.workers)
    host = args.host or settings.host
    port = args.port or settings.port
    logger.info("lifegraph on http://%s:%s/graphql", host, port)
    # Uvicorn shuts down gracefully on SIGTERM, then raises the signal again. Exiting
    # through SystemExit then runs the atexit hooks, which stop the embedded PostgreSQL.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    uvicorn.run(
        "lifegraph.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=args.workers,
        log_level="info",
        **server_options(settings),
    )
    return 0


def _exit_on_sigterm(signum: int, frame: object) -> None:
    sys.exit(128 + signum)


def worker(args: argparse.Namespace) -> int:
    from lifegraph import worker as workers
    from lifegraph.services import build_services

    settings = Settings()
    url = database_url(settings)
    services = build_services(settings.model_copy(update={"database_url": url}))
    workers.main(services, concurrency=args.concurrency)
    return 0


def migrate(args: argparse.Namespace) -> int:
    from lifegraph.migrate import upgrade

    upgrade(database_url(Settings()), args.revision)
    return 0


def create_admin(args: argparse.Namespace) -> int:
    from lifegraph.admin import AdminError, create_admin

    password = os.environ.get("LIFEGRAPH_ADMIN_PASSWORD")
    if password is None:
        password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass()
    settings = Settings()
    url = database_url(settings)
    try:
        outcome = asyncio.run(create_admin(settings, url, args.email, password))
    except AdminError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(outcome)
    return 0


def trust_documents(args: argparse.Namespace) -> int:
    from db.engine import create_engine, create_sessionmaker
    from resolvers.documents import documents_under, trust

    folder = Path(args.folder)
    if not folder.is_dir():
        print(f"error: {folder} is not a folder", file=sys.stderr)
        return 1
    wanted = documents_under(folder)

    async def register() -> int:
        engine = create_engine(database_url(Settings()), pool_size=1)
        try:
            return await trust(create_sessionmaker(engine), wanted)
        finally:
            await engine.dispose()

    added = asyncio.run(register())
    print(f"{len(wanted)} documents, {added} newly trusted")
    return 0


def export_schema(args: argparse.Namespace) -> int:
    from schema.root import export

    text = export()
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text)
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="lifegraph", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)

    run = commands.add_parser("serve", help="apply migrations and serve the API")
    run.add_argument("--host", help="default: LIFEGRAPH_HOST or 127.0.0.1")
    run.add_argument("--port", type=int, help="default: LIFEGRAPH_PORT or 8000")
    run.add_argument("--workers", type=int, default=1, help="server processes")
    run.add_argument("--no-migrate", action="store_true", help="do not apply migrations first")
    run.set_defaults(handler=serve)

    work = commands.add_parser("worker", help="run background jobs (receipt OCR, cleanup)")
    work.add_argument("--concurrency", type=int, default=2, help="jobs at once")
    work.set_defaults(handler=worker)

    up = commands.add_parser("migrate", help="apply database migrations")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(handler=migrate)

    admin = commands.add_parser(
        "create-admin",
        help="create an admin, or make an existing user admin",
        description="The password comes from LIFEGRAPH_ADMIN_PASSWORD, stdin or a prompt.",
    )
    admin.add_argument("email")
    admin.add_argument("--password-stdin", action="store_true")
    admin.set_defaults(handler=create_admin)

    trusted = commands.add_parser(
        "trust-documents",
        help="register the operations of a folder of .graphql files as trusted documents",
    )
    trusted.add_argument("folder", help="for example contract/operations")
    trusted.set_defaults(handler=trust_documents)

    export = commands.add_parser("export-schema", help="print or write the GraphQL schema (SDL)")
    export.add_argument("--output", "-o", default="schema.graphql", help="file, or - for stdout")
    export.set_defaults(handler=export_schema)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        configure_logging(Settings())
        return int(args.handler(args))
    except ValidationError as error:
        # Settings errors, printed without the values (they may hold passwords).
        for problem in error.errors(include_input=False, include_url=False):
            where = ".".join(str(part) for part in problem["loc"]) or "settings"
            print(f"error: {where}: {problem['msg']}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
