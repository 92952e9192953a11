"""The text checks every domain shares (``resolvers.validation``)."""

from __future__ import annotations

import pytest

from resolvers.errors import BadUserInput, Problems
from resolvers.uploads import safe_filename
from resolvers.validation import (
    UNSTORABLE,
    checked_text,
    clean_text,
    display_name_problem,
    email_problem,
    normalise_email,
    search_text,
    storable,
)


def test_text_is_trimmed_and_composed() -> None:
    assert clean_text("  Cafe\u0301 \n", max_length=10) == ("Caf\u00e9", None)
    assert clean_text("  indented\n", max_length=20, trim=False) == ("  indented\n", None)


def test_length_counts_composed_characters() -> None:
    assert clean_text("e\u0301" * 3, max_length=3) == ("\u00e9" * 3, None)
    assert clean_text("abcd", max_length=3)[1] == "Use at most 3 characters."
    assert clean_text("a", max_length=5, min_length=2)[1] == "Use 2 to 5 characters."
    assert clean_text("   ", max_length=5, min_length=1) == ("", "This cannot be empty.")
    assert clean_text("x" * 100_001, max_length=100_000)[1] == "Use at most 100,000 characters."


@pytest.mark.parametrize("value", ["a\x00b", "a\ud800b", "\udfff", "\ud83d\ude00"])
def test_nul_and_surrogates_are_refused(value: str) -> None:
    assert not storable(value)
    assert clean_text(value, max_length=100)[1] == UNSTORABLE


@pytest.mark.parametrize("value", ["\U0001f600", "\ufffe", "\x01", "\u200b", "\U0010ffff"])
def test_other_code_points_can_be_stored(value: str) -> None:
    assert storable(value)
    assert clean_text(value, max_length=100)[1] is None


def test_checked_text_collects_the_problem_on_its_field() -> None:
    problems = Problems()
    assert checked_text(None, ("input", "name"), problems, max_length=5) == ""
    assert problems.items == []
    checked_text("a\x00", ("input", "name"), problems, max_length=5)
    assert [(p.field, p.message, p.code) for p in problems.items] == [
        (("input", "name"), UNSTORABLE, "INVALID")
    ]


def test_search_text_is_cleaned_or_bad_user_input() -> None:
    assert search_text(None) is None
    assert search_text(" Cafe\u0301 ") == "Caf\u00e9"
    for value in ("a\x00", "a\ud800", "x" * 201):
        with pytest.raises(BadUserInput, match="'merchant'"):
            search_text(value, "merchant")


def test_emails_that_cannot_be_stored_are_refused_and_match_no_account() -> None:
    assert normalise_email("  Ann@Example.COM ") == "ann@example.com"
    assert normalise_email("Jose\u0301@example.com") == "jos\u00e9@example.com"
    for value in ("a\x00b@example.com", "a\ud800b@example.com"):
        email = normalise_email(value)
        assert storable(email)
        assert email_problem(email) == UNSTORABLE
    assert email_problem("ann@example.com") is None


def test_display_names() -> None:
    assert display_name_problem("Ann") is None
    assert display_name_problem("") == "This cannot be empty."
    assert display_name_problem("x" * 101) == "Use 1 to 100 characters."
    assert display_name_problem("A\x00n") == UNSTORABLE


def test_filenames_keep_what_can_be_shown() -> None:
    assert safe_filename("../scans/Cafe\u0301\x00 receipt\ud800.jpg") == "Caf\u00e9 receipt.jpg"
    assert safe_filename("\x00") == "upload"
