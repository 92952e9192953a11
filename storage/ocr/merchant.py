"""The shop's name: found in the receipt's header, above its address."""

from __future__ import annotations

import re
import statistics
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from .dates import find_dates
from .layout import Row

# Legal-form suffixes that end a company name.
_SUFFIX = re.compile(
    r"(?<![A-Z])(?:SDN\.?\s*BHD\.?|BHD\.?|BERHAD|S/B|SB|PLC|LTD\.?|LIMITED|INC\.?|LLC|LLP|"
    r"GMBH|AG|KG|OHG|E\.?\s?K\.?|UG|CO\.|CORP\.?|CORPORATION|COMPANY|ENTERPRISES?|TRADING|"
    r"PTE\.?|PTY\.?|SARL|SAS|SRL|S\.?P\.?A\.?|B\.?V\.?|N\.?V\.?|OY|AB)(?![A-Z])"
)
# A registration number, bracketed or not: (123456-X), JM0325955-V, SA0371155-P, 1110644-W.
_REGISTRATION = re.compile(r"\(?\b[A-Z]{0,3}\d{4,}[\dA-Z]*-?\s?[A-Z]?\b\)?|\([^()]*\d{4,}[^()]*\)?")
# Rows of the header that never hold the name.
NOT_NAME = re.compile(
    r"\b(?:CO\.?\s?REG|COMPANY\s+(?:NO|REG)|CO\.?\s+NO|ROC\b|BR\s?NO|REG(?:ISTRATION)?\.?\s?NO|"
    r"GST|SST|VAT|TAX|TEL|FAX|PHONE|H/P|INVOICE|RECEIPT|CASH\s+(?:BILL|SALES)|"
    r"BILL\b|WELCOME|THANK|CHECK|WWW\.|HTTPS?:|\.COM|@)",
)
_TITLE_ONLY = re.compile(r"^[\W\d]*(?:TAX|SIMPLIFIED|INVOICE|RECEIPT|OFFICIAL|COPY|BILL)[\W\d]*$")
# Where the header ends: the address, contact details, registration for tax, the date.
ADDRESS = re.compile(
    r"(?<![\dA-Z])\d{5}(?![\d-])|^\W*(?:NO|LOT|UNIT|LEVEL|BLOCK|BLK|SUITE)\b|^[A-Z]?\d+[-/\w]*\s*,|"
    r"\b(?:JALAN|JLN|JL|LORONG|TAMAN|ROAD|RD|STREET|ST|AVENUE|AVE|STRASSE|STR|RUE|FLOOR|FLR)\b"
)
CONTACT = re.compile(r"\b(?:TEL|FAX|PHONE|H/P|GST|SST|VAT)\b")
_HEADER_ROWS = 10


@dataclass(frozen=True)
class MerchantGuess:
    name: str
    certainty: float


def find_merchant(rows: Sequence[Row]) -> MerchantGuess | None:
    """The company named at the top of the receipt.

    The header runs from the top to the address. The name is its row ending in a legal
    form (SDN BHD, LTD, GmbH...); a name broken over two rows is joined again. Without such
    a row it is the first row that is neither a code, a registration number nor a title.
    """
    header = _header(rows)
    typical_height = statistics.median(row.height for row in rows)
    names = [i for i, row in enumerate(header) if _may_be_name(row, typical_height)]
    if not names:
        return None
    with_suffix = [i for i in names if ends_with_suffix(strip_registration(header[i].text))]
    if with_suffix:
        index = with_suffix[0]
        parts = [index]
        above = index - 1
        if above in names and (
            _words_before_suffix(header[index].text) <= 1 or _continues(header[above].text)
        ):
            parts.insert(0, above)
        return MerchantGuess(canonical_name(" ".join(header[i].text for i in parts)), 0.9)
    first = names[0]
    parts = [first]
    following = first + 1
    if following in names and (
        _continues(header[first].text)
        or (
            _similar_height(header[first], header[following])
            and following + 1 < len(header)
            and is_registration(header[following + 1].text)
        )
    ):
        parts.append(following)
    return MerchantGuess(canonical_name(" ".join(header[i].text for i in parts)), 0.6)


def _header(rows: Sequence[Row]) -> list[Row]:
    header: list[Row] = []
    typical_height = statistics.median(row.height for row in rows)
    for row in rows[:_HEADER_ROWS]:
        upper = row.text.upper()
        has_name = ends_with_suffix(strip_registration(upper))
        # Codes, stamps and handwriting (far taller than the print) do not end the header.
        is_note = " " not in upper.strip() or row.height > 2 * typical_height
        if (
            not has_name
            and not is_note
            and (ADDRESS.search(upper) or CONTACT.search(upper) or find_dates(upper))
        ):
            break
        header.append(row)
    return header


def _may_be_name(row: Row, typical_height: float) -> bool:
    text = row.text
    upper = text.upper()
    letters = re.sub(r"[^A-Za-z]", "", text)
    if len(letters) < 2 or row.score < 0.7:
        return False
    if text == text.lower() or row.height > 3 * typical_height:
        # Handwritten notes and web addresses, not a printed name.
        return False
    if " " not in text.strip() and (re.search(r"\d", text) or len(text.strip()) <= 3):
        # Codes, numbers and initials written on the receipt.
        return False
    if is_registration(upper) or _TITLE_ONLY.match(upper):
        return False
    return not NOT_NAME.search(upper)


def is_registration(text: str) -> bool:
    rest = _REGISTRATION.sub("", text.upper())
    return re.search(r"[A-Z]{2,}", rest) is None


def strip_registration(text: str) -> str:
    upper = text.upper()
    stripped = re.sub(r"[\s,;:.-]*" + _REGISTRATION.pattern + r"\W*$", "", upper)
    return stripped.strip()


def ends_with_suffix(text: str) -> bool:
    ends = [match.end() for match in _SUFFIX.finditer(text)]
    return bool(ends) and not re.search(r"[A-Z0-9]", text[ends[-1] :])


def _words_before_suffix(text: str) -> int:
    match = _SUFFIX.search(text.upper())
    return len(text[: match.start()].split()) if match else 0


def _continues(text: str) -> bool:
    return re.search(r"(?:&|-|\bAND|\bUND|\bET)\s*$", text.upper()) is not None


def _similar_height(a: Row, b: Row) -> bool:
    return abs(a.height - b.height) <= 0.2 * max(a.height, b.height)


def canonical_name(text: str) -> str:
    """The name in one canonical form: upper case, registration numbers and labels dropped,
    so the same shop reads the same on every receipt."""
    # Full-width brackets carry their own spacing; NFKC alone would glue them to the words.
    name = text.replace("\uff08", " (").replace("\uff09", ") ")
    name = unicodedata.normalize("NFKC", name)
    # In a word otherwise in lower case, a capital I is a misread l ("WorId").
    name = re.sub(r"(?<=[a-z])I(?=[a-z]|\b)", "l", name)
    name = name.upper()
    name = strip_registration(name)
    if ":" in name:
        label, _, rest = name.partition(":")
        if ends_with_suffix(rest.strip()) and len(label.split()) <= 2:
            name = rest
    # A hyphen before the legal form, and no space after an abbreviation's full stop
    # ("S.H.H.MOTOR", "SDN.BHD."), are misread spaces.
    name = re.sub(r"(?<=[A-Z])-(?=SDN\b|BHD\b)", " ", name)
    name = re.sub(r"(?<=[A-Z]\.)(?=[A-Z]{3})", " ", name)
    name = re.sub(r"\(\s+|\s+\)", lambda m: m.group().strip(), name)
    name = name.replace("{", "(").replace("}", ")")
    # The legal form as OCR misreads it: S/B read 5/B, SDN read SON or SN.
    name = re.sub(r"(?<![A-Z0-9])5/B\b", "S/B", name)
    name = re.sub(r"\bS[O0]?N(?=\.?\s*BHD\b)", "SDN", name)
    # A branch's short code after the legal form: "S/B (KSB)".
    name = re.sub(r"(" + _SUFFIX.pattern + r")\s*\([A-Z0-9]{1,4}\)\s*$", r"\1", name)
    # A title's full stop runs into the name: "MR.D.I.Y." is "MR. D.I.Y.".
    name = re.sub(r"^(MRS?|DR)\.(?=[A-Z])", r"\1. ", name)
    name = re.sub(r"(?<=\S)&(?=\s)|(?<=\s)&(?=\S)", " & ", name)
    name = re.sub(r"\s+", " ", name)
    return name.strip(" ,;:-*_").lstrip("#.~'\"`").strip()
