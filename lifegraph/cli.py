"""The ``lifegraph`` command: the server, the job worker, migrations, accounts and bulk work.

Commands import what they need when they run, so that ``--help`` and quick commands stay
quick. The work itself lives in modules of its own (``lifegraph.migrate``,
``lifegraph.reprocess``, ``lifegraph.admin``, ``lifegraph.demo``).
"""

from __future__ import annotations

import asyncio
import getpass
import logging
import os
import secrets
import signal
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from lifegraph.logs import configure_logging
from lifegraph.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Callable

    from lifegraph.demo import DemoAccount
    from lifegraph.migrate import Version
    from lifegraph.reprocess import Tally
    from resolvers.context import Services

logger = logging.getLogger("lifegraph")
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

app = typer.Typer(
    name="lifegraph",
    help="lifegraph: the GraphQL API server of a personal life tracker, and its tools.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
migrations = typer.Typer(invoke_without_command=True)
receipts = typer.Typer(help="Bulk work on receipts.", no_args_is_help=True)
app.add_typer(migrations, name="migrate")
app.add_typer(receipts, name="receipts")


def database_url(settings: Settings) -> str:
    """``DATABASE_URL`` when set, otherwise the embedded server (started on demand)."""
    if settings.database_url:
        return settings.database_url
    from lifegraph import embedded

    logger.info("no DATABASE_URL: starting the embedded PostgreSQL in %s", settings.pgdata)
    return embedded.start(settings.pgdata)


def command_services(settings: Settings) -> Services:
    """The services of a command run outside the server, on the same database."""
    from lifegraph.services import build_services

    return build_services(settings.model_copy(update={"database_url": database_url(settings)}))


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"error: {message}", markup=False)
    return typer.Exit(code)


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on. Default: LIFEGRAPH_HOST or 127.0.0.1.")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on. Default: LIFEGRAPH_PORT or 8000.")
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Server processes.")] = 1,
    no_migrate: Annotated[
        bool, typer.Option("--no-migrate", help="Do not apply the migrations first.")
    ] = False,
) -> None:
    """Apply the migrations, then serve the GraphQL API (GraphiQL in a browser at /graphql).

    Without DATABASE_URL it starts an embedded PostgreSQL in LIFEGRAPH_DATA_DIR, and runs
    the job worker in the server too.
    """
    import uvicorn

    from lifegraph.app import server_options
    from lifegraph.metrics import share_between_workers
    from lifegraph.migrate import upgrade

    settings = Settings()
    url = database_url(settings)
    if not no_migrate:
        upgrade(url)
    # The app factory reads its settings from the environment, in every worker process.
    os.environ["DATABASE_URL"] = url
    if not settings.database_url:
        # Embedded: one command is enough, so the server runs the job worker as well.
        os.environ.setdefault("LIFEGRAPH_IN_PROCESS_WORKER", "true")
    share_between_workers(settings, workers)
    host = host or settings.host
    port = port or settings.port
    logger.info("lifegraph on http://%s:%s/graphql", host, port)
    # Uvicorn shuts down gracefully on SIGTERM, then raises the signal again. Exiting
    # through SystemExit then runs the atexit hooks, which stop the embedded PostgreSQL.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    uvicorn.run(
        "lifegraph.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        **server_options(settings),
    )


def _exit_on_sigterm(signum: int, frame: object) -> None:
    sys.exit(128 + signum)


@app.command()
def worker(
    concurrency: Annotated[int, typer.Option(min=1, help="Jobs run at once.")] = 2,
) -> None:
    """Run the background jobs: receipt OCR, storage cleanup, webhooks, periodic maintenance."""
    from lifegraph import worker as workers

    workers.main(command_services(Settings()), concurrency=concurrency)


@migrations.callback()
def migrate(context: typer.Context) -> None:
    """Apply, undo or show the database migrations. Without a command: apply them all."""
    _only_migration_steps()
    if context.invoked_subcommand is None:
        up("head")


def _only_migration_steps() -> None:
    """Of Alembic's messages, only the steps it runs ("Running upgrade a -> b, ...")."""
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.migration").addFilter(
        lambda record: record.getMessage().startswith("Running ")
    )


@migrations.command()
def up(
    revision: Annotated[
        str,
        typer.Argument(
            metavar="REVISION", help="Revision to upgrade to: an id, +N steps, or head."
        ),
    ] = "head",
) -> None:
    """Apply migrations up to REVISION (all of them by default)."""
    from lifegraph.migrate import upgrade

    _migrate(upgrade, revision)


@migrations.command(context_settings={"ignore_unknown_options": True})
def down(
    revision: Annotated[
        str,
        typer.Argument(
            metavar="REVISION",
            help="Revision to go back to: an id, -N steps (-1: undo the last), or base (undo all).",
        ),
    ],
) -> None:
    """Undo migrations down to REVISION. Undoing drops what they created, data included."""
    from lifegraph.migrate import downgrade

    _migrate(downgrade, revision)


@migrations.command()
def current() -> None:
    """Show the database's revision, and whether it is the newest (head)."""
    from lifegraph.migrate import version

    out.print(_where(version(database_url(Settings()))), markup=False)


@migrations.command()
def history() -> None:
    """List the migrations, newest first, with the ones applied to the database."""
    from rich.table import Table

    from lifegraph.migrate import version

    found = version(database_url(Settings()))
    table = Table("revision", "state", "description")
    for migration in found.history:
        marks = ["applied" if migration.applied else "to apply"]
        marks += ["current"] if migration.revision in found.current else []
        marks += ["head"] if migration.revision in found.heads else []
        table.add_row(migration.revision, ", ".join(marks), migration.description)
    out.print(table)
    out.print(_where(found), markup=False)


def _migrate(step: Callable[[str, str], None], revision: str) -> None:
    from alembic.util.exc import CommandError

    from lifegraph.migrate import version

    url = database_url(Settings())
    try:
        step(url, revision)
    except CommandError as error:
        raise fail(str(error)) from error
    out.print(_where(version(url)), markup=False)


def _where(found: Version) -> str:
    at = ", ".join(found.current) or "no revision"
    if found.at_head:
        return f"{at} (head): the database is up to date"
    pending = len(found.pending)
    plural = "" if pending == 1 else "s"
    return f"{at} (not head): {pending} migration{plural} to apply, `lifegraph migrate up`"


@app.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Argument(metavar="EMAIL", help="The admin's email.")],
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from the first line of stdin."),
    ] = False,
) -> None:
    """Create an admin, or make an existing user admin.

    The password comes from LIFEGRAPH_ADMIN_PASSWORD, else stdin (with --password-stdin),
    else a prompt; an existing user keeps theirs.
    """
    from lifegraph.admin import AdminError
    from lifegraph.admin import create_admin as make_admin

    password = os.environ.get("LIFEGRAPH_ADMIN_PASSWORD")
    if password is None:
        password = sys.stdin.readline().rstrip("\n") if password_stdin else getpass.getpass()
    settings = Settings()
    url = database_url(settings)
    try:
        outcome = asyncio.run(make_admin(settings, url, email, password))
    except AdminError as error:
        raise fail(str(error)) from error
    print(outcome)


@app.command("trust-documents")
def trust_documents(
    folder: Annotated[
        Path,
        typer.Argument(
            metavar="FOLDER", help="A folder of .graphql files, for example contract/operations."
        ),
    ],
) -> None:
    """Register the operations of a folder of .graphql files as trusted documents."""
    from db.engine import create_engine, create_sessionmaker
    from resolvers.documents import documents_under, trust

    if not folder.is_dir():
        raise fail(f"{folder} is not a folder")
    wanted = documents_under(folder)

    async def register() -> int:
        engine = create_engine(database_url(Settings()), pool_size=1)
        try:
            return await trust(create_sessionmaker(engine), wanted)
        finally:
            await engine.dispose()

    added = asyncio.run(register())
    print(f"{len(wanted)} documents, {added} newly trusted")


@app.command("export-schema")
def export_schema(
    output: Annotated[
        str, typer.Option("--output", "-o", help="File to write, or - for stdout.")
    ] = "schema.graphql",
) -> None:
    """Print or write the GraphQL schema (SDL)."""
    from schema.root import export

    text = export()
    if output == "-":
        sys.stdout.write(text)
    else:
        Path(output).write_text(text)


class ReprocessStatus(StrEnum):
    FAILED = "FAILED"
    PENDING = "PENDING"
    PROCESSED = "PROCESSED"


@receipts.command("reprocess")
def reprocess_receipts(
    status: Annotated[
        ReprocessStatus,
        typer.Option(case_sensitive=False, help="Read again the receipts in this status."),
    ] = ReprocessStatus.FAILED,
    user: Annotated[
        str | None, typer.Option(metavar="EMAIL", help="Only this user's receipts.")
    ] = None,
) -> None:
    """Read again, with OCR, every receipt in one status (FAILED by default).

    One receipt at a time, each committed on its own, as the OCR job does: interrupt it
    (Ctrl-C) whenever, and run it again to go on with what is still in that status.
    """
    from db.receipts import ReceiptStatus
    from lifegraph.progress import progress_bars
    from lifegraph.reprocess import Tally, UnknownUser, reprocess
    from lifegraph.services import opened
    from storage.ocr import OcrUnavailable

    services = command_services(Settings())
    tally = Tally()

    async def run() -> None:
        async with opened(services):
            with progress_bars(err) as bars:
                await reprocess(
                    services, ReceiptStatus(status), email=user, progress=bars, tally=tally
                )

    try:
        asyncio.run(run())
    except UnknownUser as error:
        raise fail(str(error)) from error
    except OcrUnavailable as error:
        _summarise(tally, status)
        raise fail(f"the OCR engine is unavailable, try again later: {error}") from error
    except KeyboardInterrupt:
        _summarise(tally, status)
        out.print("Interrupted: run the command again to go on.", markup=False)
        raise typer.Exit(130) from None
    _summarise(tally, status)


def _summarise(tally: Tally, status: str) -> None:
    if tally.total == 0:
        out.print(f"No {status} receipts: nothing to do.", markup=False)
        return
    plural = "" if tally.total == 1 else "s"
    line = f"{tally.total} receipt{plural} read again: {tally.processed} processed, "
    line += f"{tally.failed} failed again"
    if tally.skipped:
        line += f", {tally.skipped} skipped (their status changed meanwhile)"
    out.print(line + ".", markup=False)
    for reason, count in tally.reasons.most_common():
        out.print(f"  {count}: {reason}", markup=False)


DEMO_EMAIL = "demo@lifegraph.local"


@app.command()
def demo(
    email: Annotated[str, typer.Option(help="The demo user's email.")] = DEMO_EMAIL,
    password: Annotated[
        str | None, typer.Option(help="The demo user's password. Default: one made up and shown.")
    ] = None,
    months: Annotated[int, typer.Option(min=1, help="Months of history to make up.")] = 3,
) -> None:
    """Create a demo user with months of made-up receipts, purchases, habits, tasks and notes.

    Applies the migrations first, then shows how to sign in.
    """
    _only_migration_steps()  # before Alembic is imported: it speaks as it loads

    from auth.passwords import password_problem
    from lifegraph.demo import (
        DemoError,
        create_demo,
    )
    from lifegraph.migrate import upgrade
    from lifegraph.progress import progress_bars
    from lifegraph.services import opened

    password = password or secrets.token_urlsafe(12)
    if problem := password_problem(password):
        raise fail(f"--password: {problem}")
    settings = Settings()
    url = database_url(settings)
    upgrade(url)
    services = command_services(settings.model_copy(update={"database_url": url}))

    async def run() -> DemoAccount:
        async with opened(services):
            with progress_bars(err) as bars:
                return await create_demo(services, email, password, months=months, progress=bars)

    try:
        account = asyncio.run(run())
    except DemoError as error:
        raise fail(str(error)) from error
    span = f"{months} month{'' if months == 1 else 's'}"
    out.print(
        f"Demo user ready, with {span} of data: {account.receipts} receipts, "
        f"{account.purchases} purchases, {account.habits} habits ({account.check_ins} "
        f"check-ins), {account.tasks} tasks, {account.notes} notes.\n"
        f"  email:    {account.email}\n"
        f"  password: {account.password}\n"
        f"Sign in at {settings.public_url.rstrip('/')}/graphql (GraphiQL, while `lifegraph "
        "serve` runs) with the Login mutation, then send its accessToken in the header "
        "`Authorization: Bearer <token>`.",
        markup=False,
    )


def main(argv: list[str] | None = None) -> int:
    try:
        configure_logging(Settings())
        app(args=argv, prog_name="lifegraph")
    except SystemExit as exit:
        return _exit_code(exit.code)
    except ValidationError as error:
        # Settings errors, printed without the values (they may hold passwords).
        for problem in error.errors(include_input=False, include_url=False):
            where = ".".join(str(part) for part in problem["loc"]) or "settings"
            print(f"error: {where}: {problem['msg']}", file=sys.stderr)
        return 2
    return 0


def _exit_code(code: str | int | None) -> int:
    if code is None or isinstance(code, int):
        return code or 0
    print(code, file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
