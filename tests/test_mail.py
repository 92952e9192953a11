"""The mail transports: the ``.eml`` folder used when no SMTP server is configured, the
message's form, and an SMTP server that cannot be reached."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest
from conftest import Api, run_jobs
from test_cli import free_port

from resolvers.context import Services
from storage.mail import FolderTransport, Letter, SmtpTransport, build_message

LETTER = Letter(
    message_id="0b6f1c8e-0000-4000-8000-000000000001",
    recipient="ann@example.com",
    subject="Reset your lifegraph password",
    text="Hello Ann,\n\nthe code is secret-token-123\n",
    html="<p>Hello Ann, the code is <b>secret-token-123</b></p>",
    date=datetime(2026, 12, 1, 9, 30, tzinfo=UTC),
)


def read(path: Path) -> EmailMessage:
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_a_message_has_text_html_and_a_stable_id() -> None:
    message = build_message(LETTER, "lifegraph <no-reply@mail.example.com>")
    assert message["Message-ID"] == f"<{LETTER.message_id}@mail.example.com>"
    assert message["Date"] == "Tue, 01 Dec 2026 09:30:00 +0000"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == [
        "text/plain",
        "text/html",
    ]


async def test_the_folder_writes_eml_files_and_logs_subjects_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = FolderTransport(tmp_path / "mail")
    message = build_message(LETTER, "lifegraph <no-reply@localhost>")
    with caplog.at_level(logging.INFO, logger="lifegraph.mail"):
        await folder.send(message)
        await folder.send(message)  # the same message again replaces its file
    (path,) = (tmp_path / "mail").iterdir()
    assert path.name == f"{LETTER.message_id}.eml"
    written = read(path)
    assert written["Subject"] == LETTER.subject
    body = written.get_body(("plain",))
    assert body is not None
    assert "secret-token-123" in body.get_content()
    assert LETTER.subject in caplog.text
    assert "secret-token-123" not in caplog.text
    assert "Hello Ann" not in caplog.text


async def test_without_smtp_sign_up_mail_lands_in_the_data_folder(
    api: Api, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    assert services.settings.smtp_url is None
    await api.register("ann@example.com")
    with caplog.at_level(logging.INFO, logger="lifegraph.mail"):
        await run_jobs(services)
    (path,) = services.settings.mail_dir.iterdir()
    message = read(path)
    assert message["To"] == "ann@example.com"
    body = message.get_body(("plain",))
    assert body is not None
    assert "/verify-email?token=" in body.get_content()
    assert "Confirm your email address for lifegraph" in caplog.text
    assert "token=" not in caplog.text


async def test_an_unreachable_server_raises() -> None:
    transport = SmtpTransport(f"smtp://127.0.0.1:{free_port()}", timeout=5)
    with pytest.raises(aiosmtplib.SMTPConnectError):
        await transport.send(build_message(LETTER, "lifegraph <no-reply@localhost>"))


@pytest.mark.parametrize("url", ["http://mail.example.com", "smtp://", "mail.example.com:587"])
def test_only_smtp_urls_are_taken(url: str) -> None:
    with pytest.raises(ValueError, match="SMTP URL"):
        SmtpTransport(url)
