"""Receipt OCR: the local engine on rendered receipts, field extraction, and Textract."""

from __future__ import annotations

import asyncio
import io
import logging
import socket
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from PIL import Image
from receipt_images import Receipt, ReceiptLine, blank, pixel_bomb, render

from storage.ocr import OcrError, OcrItem, OcrUnavailable
from storage.ocr.candidates import (
    FEATURES,
    Page,
    address_candidates,
    date_candidates,
    merchant_candidates,
    total_candidates,
)
from storage.ocr.dates import find_dates, parse_date
from storage.ocr.fields import TextLine, extract_fields
from storage.ocr.images import load_image, pixel_problem
from storage.ocr.layout import group_rows
from storage.ocr.local import LocalOcrEngine
from storage.ocr.money import detect_currency, find_amounts, parse_money
from storage.ocr.textract import TextractEngine

ORIENTATION = 0x0112  # the EXIF tag

# The local engine on rendered receipts.


@pytest.fixture(scope="module")
def engine() -> LocalOcrEngine:
    """One engine for the module; its model loads with the network cut off, which proves
    that the models ship inside the package."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("OCR must not use the network")

    engine = LocalOcrEngine()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", refuse)
        patch.setattr(socket, "create_connection", refuse)
        engine.load()
    return engine


def assert_receipt_read(result: Any, receipt: Receipt) -> None:
    assert result.engine == "local"
    assert result.merchant_name == receipt.merchant
    assert result.total == receipt.total
    assert result.currency == receipt.currency
    assert result.purchased_on == receipt.purchased_on
    assert "TOTAL" in result.raw_text
    assert 0.5 < result.confidence <= 1


async def test_local_reads_rendered_jpeg(engine: LocalOcrEngine) -> None:
    receipt = Receipt()

    result = await engine.read(render(receipt, "JPEG"), "image/jpeg")

    assert_receipt_read(result, receipt)
    assert result.items == [
        OcrItem(line.description, Decimal(line.quantity), line.unit_price, line.amount)
        for line in receipt.lines
    ]


async def test_local_reads_png_with_other_fields(engine: LocalOcrEngine) -> None:
    receipt = Receipt(
        merchant="BLUE HARBOUR TRADING",
        registration="(JM0325955-V)",
        date_text="5 Mar 2024 18:22",
        purchased_on=date(2024, 3, 5),
        lines=(
            ReceiptLine("CHICKEN RICE", 2, Decimal("8.50")),
            ReceiptLine("ICED LEMON TEA", 2, Decimal("3.20")),
        ),
        cash=Decimal("50.00"),
    )

    result = await engine.read(render(receipt, "PNG"), "image/png")

    assert_receipt_read(result, receipt)


@pytest.mark.parametrize(
    ("image_format", "content_type"),
    [("PDF", "application/pdf"), ("HEIC", "image/heic"), ("WEBP", "image/webp")],
)
async def test_local_reads_other_formats(
    engine: LocalOcrEngine, image_format: str, content_type: str
) -> None:
    receipt = Receipt()

    result = await engine.read(render(receipt, image_format), content_type)

    assert_receipt_read(result, receipt)


async def test_local_reads_a_photo_turned_by_its_exif_orientation(
    engine: LocalOcrEngine,
) -> None:
    receipt = Receipt()
    upright = Image.open(io.BytesIO(render(receipt, "PNG")))
    exif = Image.Exif()
    exif[ORIENTATION] = 6  # stored turned left: shown after turning right
    buffer = io.BytesIO()
    upright.rotate(90, expand=True).save(buffer, format="JPEG", quality=90, exif=exif)

    result = await engine.read(buffer.getvalue(), "image/jpeg")

    assert_receipt_read(result, receipt)


def test_large_images_are_downscaled() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (3000, 6000), "white").save(buffer, format="PNG")

    image = load_image(buffer.getvalue(), "image/png")

    assert image.size == (1000, 2000)
    assert image.mode == "RGB"


def test_an_image_over_the_pixel_budget_is_refused_before_decoding() -> None:
    bomb = pixel_bomb()
    assert len(bomb) < 1024 * 1024
    assert pixel_problem(bomb, "image/png") == "The image has more than 50 megapixels."
    with pytest.raises(OcrError, match="megapixels"):
        load_image(bomb, "image/png")


def test_a_large_jpeg_decodes_at_a_reduced_scale() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (12000, 8000), "white").save(buffer, format="JPEG", quality=50)
    photo = buffer.getvalue()
    assert pixel_problem(photo, "image/jpeg") is None  # 96 megapixels, decoded at 1/4
    assert load_image(photo, "image/jpeg").size == (2000, 1333)


async def test_local_reads_concurrently(engine: LocalOcrEngine) -> None:
    receipt = Receipt()
    image = render(receipt, "JPEG")

    results = await asyncio.gather(*(engine.read(image, "image/jpeg") for _ in range(2)))

    assert [r.total for r in results] == [receipt.total, receipt.total]


async def test_blank_image_has_no_text(engine: LocalOcrEngine) -> None:
    with pytest.raises(OcrError, match="No text"):
        await engine.read(blank("PNG"), "image/png")


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b"\xff\xd8\xff\xe0 not really a jpeg", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n truncated", "image/png"),
        (b"%PDF-1.7 garbage", "application/pdf"),
        (b"\x00\x00\x00\x18ftypheic garbage", "image/heic"),
    ],
)
async def test_unreadable_bytes_raise_ocr_error(
    engine: LocalOcrEngine, data: bytes, content_type: str
) -> None:
    with pytest.raises(OcrError) as caught:
        await engine.read(data, content_type)

    assert str(caught.value)
    assert "Traceback" not in str(caught.value)


# Field extraction from OCR lines.


def lines(*rows: str) -> list[TextLine]:
    """OCR lines for receipt rows; "|" separates a label on the left from a value on the
    right of the same row."""
    found = []
    for index, row in enumerate(rows):
        top = 30.0 * index
        for column, text in enumerate(row.split("|")):
            left = 20.0 + 360.0 * column
            right = left + 12.0 * len(text)
            box = ((left, top), (right, top), (right, top + 22), (left, top + 22))
            found.append(TextLine(text=text, box=box, score=0.98))
    return found


def read(*rows: str) -> Any:
    return extract_fields(lines(*rows), engine="local")


def test_total_is_the_final_amount_not_subtotal_tax_cash_or_change() -> None:
    result = read(
        "SUBTOTAL|48.50",
        "GST 6%|2.91",
        "TOTAL|51.41",
        "CASH|100.00",
        "CHANGE|48.59",
    )

    assert result.total == Decimal("51.41")


def test_total_prefers_the_rounded_total() -> None:
    result = read(
        "Total Sales (Incl GST)|33.92",
        "ROUNDING ADJUSTMENT|-0.02",
        "TOTAL ROUNDED|33.90",
    )

    assert result.total == Decimal("33.90")


def test_total_after_rounding_beats_total_including_tax() -> None:
    result = read(
        "Total (Inclusive of GST):|23.26",
        "Rounding Adj:|-0.01",
        "TOTAL:|23.25",
        "GST SUMMARY",
        "Total|21.94 1.31",
    )

    assert result.total == Decimal("23.25")


def test_total_checked_against_cash_and_change() -> None:
    # The amount paid in cash is the total rounded to the coin.
    result = read("Total (RM):|112.46", "CASH:|112.45", "Change (RM):|0.00")

    assert result.total == Decimal("112.45")


def test_total_from_cash_and_change_without_a_total_line() -> None:
    assert read("2 X BREAD|4.00", "CASH|20.00", "CHANGE|5.90").total == Decimal("14.10")


def test_total_labelled_on_the_row_above() -> None:
    assert read("Coffee|4.50", "GRAND TOTAL", "RM 25.10").total == Decimal("25.10")


def test_total_with_misread_label() -> None:
    assert read("Tatal Sales (Inclusive of GST) :|32.70").total == Decimal("32.70")


def test_us_receipt() -> None:
    result = read(
        "Corner Bakery Cafe",
        "1200 Main St, Springfield, IL 62701",
        "03/14/2024 8:15 AM",
        "Latte|4.25",
        "Bagel|2.50",
        "Subtotal|6.75",
        "Tax|0.56",
        "Total|$7.31",
        "VISA|$7.31",
    )

    assert (result.merchant_name, result.total) == ("CORNER BAKERY CAFE", Decimal("7.31"))
    assert (result.purchased_on, result.currency) == (date(2024, 3, 14), None)


def test_german_receipt() -> None:
    result = read(
        "Bäckerei Müller GmbH",
        "Hauptstraße 5, 10115 Berlin",
        "Datum: 14.03.2024 08:15",
        "2 x Brötchen|0,90",
        "Kaffee|2,50",
        "Summe EUR|3,40",
        "Gegeben Bar|5,00",
        "Rückgeld|1,60",
    )

    assert (result.merchant_name, result.total) == ("BÄCKEREI MÜLLER GMBH", Decimal("3.40"))
    assert (result.purchased_on, result.currency) == (date(2024, 3, 14), "EUR")


def test_no_text_raises() -> None:
    with pytest.raises(OcrError):
        extract_fields([], engine="local")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Date: 25/12/2018 8:13:39 PM", date(2018, 12, 25)),
        ("25-12-18", date(2018, 12, 25)),
        ("25.12.2018", date(2018, 12, 25)),
        ("2018-12-25", date(2018, 12, 25)),
        ("25 Dec 2018", date(2018, 12, 25)),
        ("Dec 25, 2018", date(2018, 12, 25)),
        ("December 25th 2018", date(2018, 12, 25)),
        ("28 MAR 18 18:32", date(2018, 3, 28)),
        ("17JAN2018", date(2018, 1, 17)),
        ("03/04/2018", date(2018, 4, 3)),  # ambiguous: day first
        ("12/28/2017", date(2017, 12, 28)),  # day first impossible
        ("Date :10-03-201823:03:06", date(2018, 3, 10)),  # time glued to the year
        ("20180304", date(2018, 3, 4)),
        ("Tel: 07-3507405", None),
        ("31/02/2018", None),
        ("1 X 19.00 19.00", None),
    ],
)
def test_parse_date(text: str, expected: date | None) -> None:
    assert parse_date(text) == expected


def test_purchase_date_prefers_labelled_date_over_expiry() -> None:
    result = read("SHOP SDN BHD", "Card Expiry: 30/09/18", "Date: 01/03/18 19:14", "TOTAL|5.00")

    assert result.purchased_on == date(2018, 3, 1)


def test_find_dates_reports_positions() -> None:
    [found] = find_dates("Doc CS0001 Date: 11/01/2019")

    assert (found.value, found.start) == (date(2019, 1, 11), 17)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("TOTAL RM 12.30", "MYR"),
        ("Total Amount MYR 9.90", "MYR"),
        ("Summe 12,30 €", "EUR"),
        ("TOTAL £4.50", "GBP"),
        ("TOTAL US$ 10.00", "USD"),
        ("AMOUNT DUE USD 10.00", "USD"),
        ("Nett Total: $8.20", None),
        ("THANK YOU", None),
    ],
)
def test_detect_currency(text: str, expected: str | None) -> None:
    assert detect_currency(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$1,234.50", Decimal("1234.50")),
        ("RM 12.30", Decimal("12.30")),
        ("12,30 €", Decimal("12.30")),
        ("1.234,50 €", Decimal("1234.50")),
        ("-0.02", Decimal("-0.02")),
        ("1,234", Decimal("1234")),
        ("free", None),
    ],
)
def test_parse_money(text: str, expected: Decimal | None) -> None:
    assert parse_money(text) == expected


def test_find_amounts_skips_quantities_and_percentages() -> None:
    found = find_amounts("@DISC 10.00% 1.5KG 9.000 -RM 5.59 RM .10")

    assert [a.value for a in found] == [Decimal("-5.59"), Decimal("0.10")]


def test_merchant_is_the_company_row_of_the_header() -> None:
    result = read(
        "tan woon yann",
        "A03018",
        "Unihakka International Sdn Bhd (867388-U)",
        "12, Jalan Tampoi 7/4, 81200 Johor Bahru",
        "TAX INVOICE",
    )

    assert result.merchant_name == "UNIHAKKA INTERNATIONAL SDN BHD"


def test_merchant_broken_over_two_rows() -> None:
    result = read(
        "Nando's Chickenland Malaysia",
        "Sdn Bhd",
        "Unit G-13, Ground Floor, No.1",
        "50480 Kuala Lumpur",
    )

    assert result.merchant_name == "NANDO'S CHICKENLAND MALAYSIA SDN BHD"


def test_merchant_without_legal_form_is_the_first_name_row() -> None:
    result = read("THREE STOOGES", "BISTRO & CAFE", "109, SS21/1A,", "GST ID: 001661886464")

    assert result.merchant_name == "THREE STOOGES"


def test_merchant_not_taken_from_below_the_address() -> None:
    result = read("NO.59 JALAN PERMAS 9/5", "81760 JOHOR BAHRU", "GOGIANT ENGINEERING SDN BHD")

    assert result.merchant_name is None


def test_items_with_quantities_and_unit_prices() -> None:
    result = read(
        "SHOP SDN BHD",
        "Date: 01/03/18",
        "Description Qty Price Amount",
        "PLASTIC BAG|2 15.50 31.00",
        "AIR PRESSURE SPRAYER 1.5L",
        "9066468 1 X 8.02|8.02",
        "@DISC 10.00%|-3.90",
        "TOTAL|35.12",
    )

    assert result.items == [
        OcrItem("PLASTIC BAG", Decimal(2), Decimal("15.50"), Decimal("31.00")),
        OcrItem("AIR PRESSURE SPRAYER 1.5L", Decimal(1), Decimal("8.02"), Decimal("8.02")),
        OcrItem("DISC", None, None, Decimal("-3.90")),
    ]


# Textract AnalyzeExpense, stubbed on a real client.


@pytest.fixture
def textract() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "textract",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def geometry(left: float, top: float, width: float = 0.3, height: float = 0.02) -> Any:
    return {
        "BoundingBox": {"Width": width, "Height": height, "Left": left, "Top": top},
        "Polygon": [
            {"X": left, "Y": top},
            {"X": left + width, "Y": top},
            {"X": left + width, "Y": top + height},
            {"X": left, "Y": top + height},
        ],
    }


def expense_field(
    kind: str,
    value: str,
    confidence: float,
    label: str | None = None,
    top: float = 0.1,
    **extra: Any,
) -> dict[str, Any]:
    field: dict[str, Any] = {
        "Type": {"Text": kind, "Confidence": 99.0},
        "ValueDetection": {"Text": value, "Geometry": geometry(0.6, top), "Confidence": confidence},
        "PageNumber": 1,
        **extra,
    }
    if label is not None:
        field["LabelDetection"] = {
            "Text": label,
            "Geometry": geometry(0.05, top),
            "Confidence": confidence,
        }
    return field


def line_block(text: str, top: float, index: int) -> dict[str, Any]:
    return {
        "BlockType": "LINE",
        "Confidence": 99.2,
        "Text": text,
        "Geometry": geometry(0.05, top, width=0.9),
        "Id": f"line-{index}",
        "Page": 1,
    }


def line_item(item: str, quantity: str, unit_price: str, price: str, top: float) -> Any:
    return {
        "LineItemExpenseFields": [
            expense_field("ITEM", item, 97.5, top=top),
            expense_field("QUANTITY", quantity, 95.0, top=top),
            expense_field("UNIT_PRICE", unit_price, 96.0, top=top),
            expense_field("PRICE", price, 98.0, top=top),
            expense_field("EXPENSE_ROW", f"{item} {quantity} {unit_price} {price}", 96.0, top=top),
        ]
    }


ANALYZE_EXPENSE_RESPONSE: dict[str, Any] = {
    "DocumentMetadata": {"Pages": 1},
    "ExpenseDocuments": [
        {
            "ExpenseIndex": 1,
            "SummaryFields": [
                expense_field(
                    "NAME",
                    "Green Leaf Grocers",
                    96.0,
                    top=0.02,
                    GroupProperties=[{"Types": ["VENDOR"], "Id": "vendor-1"}],
                ),
                expense_field(
                    "ADDRESS",
                    "12 Market Street, Springfield",
                    92.0,
                    top=0.05,
                    GroupProperties=[{"Types": ["VENDOR"], "Id": "vendor-1"}],
                ),
                expense_field("INVOICE_RECEIPT_DATE", "03/14/2024", 98.0, "Date:", top=0.1),
                expense_field(
                    "SUBTOTAL",
                    "$48.50",
                    97.0,
                    "SUBTOTAL",
                    top=0.6,
                    Currency={"Code": "USD", "Confidence": 90.0},
                ),
                expense_field("TAX", "$2.91", 97.0, "TAX", top=0.63),
                expense_field(
                    "TOTAL",
                    "$1,051.41",
                    94.0,
                    "TOTAL",
                    top=0.66,
                    Currency={"Code": "USD", "Confidence": 92.0},
                ),
                expense_field("AMOUNT_PAID", "$1,100.00", 90.0, "CASH", top=0.7),
            ],
            "LineItemGroups": [
                {
                    "LineItemGroupIndex": 1,
                    "LineItems": [
                        line_item("Jasmine Rice 5kg", "1", "$24.90", "$24.90", 0.3),
                        line_item("Fresh Milk", "2", "$7.45", "$14.90", 0.33),
                        line_item("Espresso Machine", "1", "$1,000.00", "$1,000.00", 0.36),
                    ],
                }
            ],
            "Blocks": [
                {"BlockType": "PAGE", "Geometry": geometry(0, 0, 1, 1), "Id": "page-1"},
                line_block("GREEN LEAF GROCERS", 0.02, 1),
                line_block("12 Market Street, Springfield", 0.05, 2),
                line_block("Date: 03/14/2024", 0.1, 3),
                line_block("TOTAL $1,051.41", 0.66, 4),
            ],
        }
    ],
}


async def test_textract_maps_analyze_expense(textract: tuple[Any, Stubber]) -> None:
    client, stubber = textract
    image = render(Receipt(), "JPEG")
    stubber.add_response(
        "analyze_expense", ANALYZE_EXPENSE_RESPONSE, {"Document": {"Bytes": image}}
    )

    result = await TextractEngine(client).read(image, "image/jpeg")

    assert result.engine == "textract"
    assert result.merchant_name == "GREEN LEAF GROCERS"
    assert result.total == Decimal("1051.41")
    assert result.currency == "USD"
    assert result.purchased_on == date(2024, 3, 14)
    assert result.address == "12 Market Street, Springfield"
    assert result.items == [
        OcrItem("Jasmine Rice 5kg", Decimal(1), Decimal("24.90"), Decimal("24.90")),
        OcrItem("Fresh Milk", Decimal(2), Decimal("7.45"), Decimal("14.90")),
        OcrItem("Espresso Machine", Decimal(1), Decimal("1000.00"), Decimal("1000.00")),
    ]
    assert result.raw_text.splitlines() == [
        "GREEN LEAF GROCERS",
        "12 Market Street, Springfield",
        "Date: 03/14/2024",
        "TOTAL $1,051.41",
    ]
    assert result.confidence == pytest.approx(0.25 * 0.96 + 0.5 * 0.94 + 0.25 * 0.98)


async def test_textract_without_blocks_or_currency_code(textract: tuple[Any, Stubber]) -> None:
    client, stubber = textract
    response = {
        "ExpenseDocuments": [
            {
                "ExpenseIndex": 1,
                "SummaryFields": [
                    expense_field("VENDOR_NAME", "KEDAI RUNCIT MAJU", 91.0, top=0.02),
                    expense_field("INVOICE_RECEIPT_DATE", "25 Dec 2018", 97.0, "Date"),
                    expense_field("AMOUNT_PAID", "RM 12.30", 95.0, "Jumlah", top=0.5),
                ],
                "LineItemGroups": [],
            }
        ]
    }
    stubber.add_response("analyze_expense", response, {"Document": {"Bytes": ANY}})

    result = await TextractEngine(client).read(render(Receipt(), "PNG"), "image/webp")

    assert (result.merchant_name, result.total, result.currency) == (
        "KEDAI RUNCIT MAJU",
        Decimal("12.30"),
        "MYR",
    )
    assert result.purchased_on == date(2018, 12, 25)
    assert result.raw_text.splitlines() == [
        "KEDAI RUNCIT MAJU",
        "Date 25 Dec 2018",
        "Jumlah RM 12.30",
    ]


def expense_response(fields: list[dict[str, Any]], *lines: str) -> dict[str, Any]:
    """A response with these summary fields and these printed lines, top to bottom."""
    blocks = [line_block(text, 0.05 + 0.04 * index, index) for index, text in enumerate(lines)]
    return {
        "DocumentMetadata": {"Pages": 1},
        "ExpenseDocuments": [
            {
                "ExpenseIndex": 1,
                "SummaryFields": fields,
                "LineItemGroups": [],
                "Blocks": [
                    {"BlockType": "PAGE", "Geometry": geometry(0, 0, 1, 1), "Id": "page-1"},
                    *blocks,
                ],
            }
        ],
    }


async def analyzed(textract: tuple[Any, Stubber], response: dict[str, Any]) -> Any:
    client, stubber = textract
    stubber.add_response("analyze_expense", response, {"Document": {"Bytes": ANY}})
    return await TextractEngine(client).read(render(Receipt(), "JPEG"), "image/jpeg")


PRINTED = ("CORNER SHOP", "12 HILL ROAD", "DATE: 25/12/2018", "BREAD 4.50", "MILK 4.50")


async def test_textract_fields_it_missed_are_read_from_its_lines(
    textract: tuple[Any, Stubber],
) -> None:
    fields = [expense_field("VENDOR_NAME", "CORNER SHOP", 90.0, top=0.05)]
    result = await analyzed(textract, expense_response(fields, *PRINTED, "TOTAL 9.00"))

    assert result.merchant_name == "CORNER SHOP"
    assert result.purchased_on == date(2018, 12, 25)
    assert result.total == Decimal("9.00")
    # Textract's own merchant, and the fields read from the lines, count.
    assert result.confidence > 0.25 * 0.9


async def test_textract_own_fields_win_over_its_lines(textract: tuple[Any, Stubber]) -> None:
    fields = [
        expense_field("VENDOR_NAME", "CORNER SHOP", 90.0, top=0.05),
        expense_field("TOTAL", "12.50", 95.0, "TOTAL", top=0.3),
        expense_field("INVOICE_RECEIPT_DATE", "26/12/2018", 97.0, "DATE:", top=0.13),
    ]
    result = await analyzed(textract, expense_response(fields, *PRINTED, "TOTAL 9.00"))

    assert (result.total, result.purchased_on) == (Decimal("12.50"), date(2018, 12, 26))
    assert result.confidence == pytest.approx(0.25 * 0.9 + 0.5 * 0.95 + 0.25 * 0.97, abs=1e-3)


async def test_textract_own_ambiguous_date_keeps_both_readings(
    textract: tuple[Any, Stubber],
) -> None:
    fields = [expense_field("INVOICE_RECEIPT_DATE", "03/04/2019", 97.0, "DATE:", top=0.13)]
    printed = ("CORNER SHOP", "DATE: 03/04/2019", "TOTAL 9.00")
    result = await analyzed(textract, expense_response(fields, *printed))

    assert result.purchased_on == date(2019, 4, 3)
    assert result.purchased_on_month_first == date(2019, 3, 4)


def test_an_unambiguous_date_has_one_reading() -> None:
    result = read("SHOP SDN BHD", "DATE: 25/12/2018 10:42", "TOTAL|5.00")

    assert (result.purchased_on, result.purchased_on_month_first) == (date(2018, 12, 25), None)
    assert read("SHOP", "DATE: 2019-03-04", "TOTAL|5.00").purchased_on_month_first is None


def test_every_candidate_has_every_feature_of_its_field() -> None:
    rows = [row for row in group_rows(lines(*PRINTED, "CASH|20.00", "CHANGE|11.00")) if row.text]
    page = Page.of(rows)
    for field, candidates in (
        ("total", total_candidates(page)),
        ("date", date_candidates(page)),
        ("merchant", merchant_candidates(page, "CORNER SHOP")),
        ("address", address_candidates(page)),
    ):
        assert candidates, field
        assert {len(c.features) for c in candidates} == {len(FEATURES[field])}, field


@pytest.mark.parametrize(
    ("kind", "groups"),
    [("VENDOR_ADDRESS", []), ("ADDRESS", [{"Types": ["VENDOR"], "Id": "vendor-1"}])],
)
async def test_textract_reads_the_shops_address_not_the_receivers(
    textract: tuple[Any, Stubber], kind: str, groups: list[Any]
) -> None:
    fields = [
        expense_field("VENDOR_NAME", "CORNER SHOP", 90.0, top=0.05),
        expense_field(
            "ADDRESS",
            "1 Customer Lane\nFarville",
            99.0,
            top=0.5,
            GroupProperties=[{"Types": ["RECEIVER_BILL_TO"], "Id": "receiver-1"}],
        ),
        expense_field(
            kind, "12 HILL ROAD\nSPRINGFIELD 12345", 88.0, top=0.09, GroupProperties=groups
        ),
        expense_field("TOTAL", "9.00", 95.0, "TOTAL", top=0.3),
    ]
    result = await analyzed(textract, expense_response(fields, *PRINTED, "TOTAL 9.00"))

    assert result.address == "12 HILL ROAD SPRINGFIELD 12345"


async def test_textract_without_lines_keeps_what_it_read(textract: tuple[Any, Stubber]) -> None:
    fields = [
        expense_field("VENDOR_NAME", "CORNER SHOP", 90.0, top=0.05),
        expense_field("TOTAL", "9.00", 95.0, "TOTAL", top=0.3),
    ]
    result = await analyzed(textract, expense_response(fields))

    assert (result.merchant_name, result.total) == ("CORNER SHOP", Decimal("9.00"))
    assert (result.purchased_on, result.address) == (None, None)
    assert result.confidence == pytest.approx(0.25 * 0.9 + 0.5 * 0.95)


@pytest.mark.parametrize("code", ["ThrottlingException", "ProvisionedThroughputExceededException"])
async def test_textract_overload_is_worth_a_retry(textract: tuple[Any, Stubber], code: str) -> None:
    client, stubber = textract
    stubber.add_client_error("analyze_expense", service_error_code=code, http_status_code=400)
    with pytest.raises(OcrUnavailable):
        await TextractEngine(client).read(b"\xff\xd8\xff\xe0", "image/jpeg")


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("UnsupportedDocumentException", "not supported"),
        ("InvalidParameterException", "could not be read"),
        ("AccessDeniedException", "unavailable"),
    ],
)
async def test_textract_client_error_is_ocr_error(
    textract: tuple[Any, Stubber], caplog: pytest.LogCaptureFixture, code: str, message: str
) -> None:
    client, stubber = textract
    stubber.add_client_error(
        "analyze_expense",
        service_error_code=code,
        service_message="Request has unsupported document format",
        http_status_code=400,
    )

    with (
        caplog.at_level(logging.WARNING, logger="lifegraph.ocr"),
        pytest.raises(OcrError, match=message) as caught,
    ):
        await TextractEngine(client).read(b"\xff\xd8\xff\xe0", "image/jpeg")

    assert "Request has unsupported" not in str(caught.value)
    assert code in caplog.text


async def test_textract_empty_response_is_ocr_error(textract: tuple[Any, Stubber]) -> None:
    client, stubber = textract
    stubber.add_response("analyze_expense", {"ExpenseDocuments": []})

    with pytest.raises(OcrError, match="No text"):
        await TextractEngine(client).read(b"\xff\xd8\xff\xe0", "image/jpeg")


# The stored form of a line item (the OCR cache's JSON).


@pytest.mark.parametrize(
    "item",
    [
        OcrItem("Fresh Milk", Decimal(2), Decimal("7.45"), Decimal("14.90")),
        OcrItem("DISC", None, None, Decimal("-3.90")),
        OcrItem("Eggs", Decimal("1E+1"), Decimal("0.5000"), Decimal("5.0000")),
    ],
)
def test_a_line_item_round_trips_through_its_json(item: OcrItem) -> None:
    stored = item.to_json()
    assert all(value is None or isinstance(value, str) for value in stored.values())
    again = OcrItem.from_json(stored)
    assert again == item
    assert [str(n) for n in (again.quantity, again.unit_price, again.amount)] == [
        str(n) for n in (item.quantity, item.unit_price, item.amount)
    ]


def test_a_line_item_reads_from_the_cached_shape() -> None:
    stored = {"description": "Tea", "quantity": "2", "unit_price": None, "amount": "3.00"}
    assert OcrItem.from_json(stored) == OcrItem("Tea", Decimal(2), None, Decimal("3.00"))
