"""Renders shop receipts with Pillow: dark print on slightly grey paper, a little tilted and
blurred like a photo, with the fields an OCR engine should read. The demo account's
receipts are drawn here, and so are the tests' (``tests/receipt_images.py``)."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import pillow_heif
from PIL import Image, ImageDraw, ImageFilter, ImageFont

WIDTH = 620
MARGIN = 28
FONT_SIZE = 22
LINE_HEIGHT = 32
CENT = Decimal("0.01")


@dataclass(frozen=True)
class ReceiptLine:
    description: str
    quantity: int
    unit_price: Decimal

    @property
    def amount(self) -> Decimal:
        return (self.unit_price * self.quantity).quantize(CENT)


@dataclass(frozen=True)
class Receipt:
    """What is printed on the receipt, and so what OCR should find."""

    merchant: str = "GREEN LEAF GROCERS SDN BHD"
    registration: str = "(123456-K)"
    address: tuple[str, ...] = ("NO. 12, JALAN MAWAR 3,", "47300 PETALING JAYA, SELANGOR")
    phone: str = "TEL: 03-7712 3456"
    purchased_on: date = date(2024, 3, 14)
    date_text: str = "14/03/2024 10:42"
    lines: tuple[ReceiptLine, ...] = field(
        default_factory=lambda: (
            ReceiptLine("JASMINE RICE 5KG", 1, Decimal("24.90")),
            ReceiptLine("FRESH MILK 1L", 2, Decimal("7.45")),
            ReceiptLine("WHOLEMEAL BREAD", 1, Decimal("4.20")),
            ReceiptLine("RED APPLES", 3, Decimal("1.50")),
        )
    )
    tax_rate: Decimal = Decimal("0.06")
    tax_label: str = "GST 6%"
    tax_included: bool = False
    """Prices include the tax, as in Europe: the tax line shows the part of the total it is."""
    payment: str = "CASH"
    cash: Decimal = Decimal("100.00")
    """What was handed over (by card, the total)."""
    currency_mark: str = "RM"
    currency: str = "MYR"
    receipt_number: str = "CS00012873"
    cashier: str = "AMY"
    footer: str = "THANK YOU, PLEASE COME AGAIN"

    @property
    def subtotal(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))

    @property
    def tax(self) -> Decimal:
        if self.tax_included:
            return (self.subtotal - self.subtotal / (1 + self.tax_rate)).quantize(CENT)
        return (self.subtotal * self.tax_rate).quantize(CENT)

    @property
    def total(self) -> Decimal:
        return self.subtotal if self.tax_included else self.subtotal + self.tax

    @property
    def change(self) -> Decimal:
        return self.cash - self.total


def render(receipt: Receipt | None = None, image_format: str = "JPEG") -> bytes:
    """The receipt as JPEG, PNG, WEBP, HEIC or PDF bytes."""
    receipt = receipt or Receipt()
    image = _draw(receipt)
    buffer = io.BytesIO()
    if image_format == "PDF":
        image.save(buffer, format="PDF", resolution=200)
    elif image_format == "HEIC":
        pillow_heif.register_heif_opener()
        image.save(buffer, format="HEIF", quality=90)
    elif image_format in ("JPEG", "WEBP"):
        image.save(buffer, format=image_format, quality=88)
    else:
        image.save(buffer, format=image_format)
    return buffer.getvalue()


def _rows(receipt: Receipt) -> list[tuple[str, str, str]]:
    """(layout, text, style) per printed line; columns and pairs are split by "|"."""
    rows: list[tuple[str, str, str]] = [
        ("center", receipt.merchant, "bold"),
        ("center", receipt.registration, ""),
        *(("center", line, "") for line in receipt.address),
        ("center", receipt.phone, ""),
        ("center", "TAX INVOICE", ""),
        ("rule", "", ""),
        ("left", f"Date: {receipt.date_text}", ""),
        ("left", f"Receipt No: {receipt.receipt_number}   Cashier: {receipt.cashier}", ""),
        ("rule", "", ""),
        ("columns", "ITEM|QTY|PRICE|AMOUNT", ""),
    ]
    for line in receipt.lines:
        rows.append(
            ("columns", f"{line.description}|{line.quantity}|{line.unit_price}|{line.amount}", "")
        )
    total = ("pair", f"TOTAL {receipt.currency_mark}|{receipt.total}", "bold")
    tax = ("pair", f"{receipt.tax_label}|{receipt.tax}", "")
    paid = [
        ("pair", f"{receipt.payment}|{receipt.cash}", ""),
        ("pair", f"CHANGE|{receipt.change}", ""),
    ]
    if receipt.tax_included:
        totals = [total, *paid, tax]
    else:
        totals = [("pair", f"SUBTOTAL|{receipt.subtotal}", ""), tax, total, *paid]
    return [*rows, ("rule", "", ""), *totals, ("rule", "", ""), ("center", receipt.footer, "")]


def _draw(receipt: Receipt) -> Image.Image:
    font = ImageFont.load_default(size=FONT_SIZE)
    bold = ImageFont.load_default(size=FONT_SIZE + 6)
    rows = _rows(receipt)
    height = MARGIN * 2 + LINE_HEIGHT * len(rows) + 40
    paper = Image.new("RGB", (WIDTH, height), (246, 245, 240))
    draw = ImageDraw.Draw(paper)
    ink = (30, 30, 35)
    y = MARGIN
    right = WIDTH - MARGIN
    for kind, text, style in rows:
        face = bold if style == "bold" else font
        if kind == "center":
            draw.text((WIDTH / 2, y), text, font=face, fill=ink, anchor="ma")
        elif kind == "left":
            draw.text((MARGIN, y), text, font=face, fill=ink)
        elif kind == "rule":
            draw.line((MARGIN, y + LINE_HEIGHT / 2, right, y + LINE_HEIGHT / 2), fill=ink, width=1)
        elif kind == "pair":
            label, value = text.split("|")
            draw.text((MARGIN, y), label, font=face, fill=ink)
            draw.text((right, y), value, font=face, fill=ink, anchor="ra")
        else:
            description, quantity, price, amount = text.split("|")
            draw.text((MARGIN, y), description, font=face, fill=ink)
            draw.text((MARGIN + 330, y), quantity, font=face, fill=ink, anchor="ra")
            draw.text((MARGIN + 450, y), price, font=face, fill=ink, anchor="ra")
            draw.text((right, y), amount, font=face, fill=ink, anchor="ra")
        y += LINE_HEIGHT + (6 if style == "bold" else 0)
    tilted = paper.rotate(0.8, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(255,) * 3)
    return tilted.filter(ImageFilter.GaussianBlur(0.6))
