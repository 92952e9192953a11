"""Renders realistic shop receipts with Pillow, with the fields an OCR engine should read."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cache

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
    cash: Decimal = Decimal("100.00")
    currency_mark: str = "RM"
    currency: str = "MYR"

    @property
    def subtotal(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))

    @property
    def tax(self) -> Decimal:
        return (self.subtotal * self.tax_rate).quantize(CENT)

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.tax

    @property
    def change(self) -> Decimal:
        return self.cash - self.total


def render(receipt: Receipt | None = None, image_format: str = "JPEG") -> bytes:
    """The receipt as JPEG, PNG, WEBP, HEIC or PDF bytes: dark print on slightly grey paper,
    a little tilted and blurred like a photo."""
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


def blank(image_format: str = "PNG") -> bytes:
    """A sheet of paper with nothing on it."""
    buffer = io.BytesIO()
    Image.new("RGB", (600, 800), (250, 250, 248)).save(buffer, format=image_format)
    return buffer.getvalue()


def _draw(receipt: Receipt) -> Image.Image:
    font = ImageFont.load_default(size=FONT_SIZE)
    bold = ImageFont.load_default(size=FONT_SIZE + 6)
    money = receipt.currency_mark
    rows: list[tuple[str, str, str]] = [
        ("center", receipt.merchant, "bold"),
        ("center", receipt.registration, ""),
        *(("center", line, "") for line in receipt.address),
        ("center", receipt.phone, ""),
        ("center", "TAX INVOICE", ""),
        ("rule", "", ""),
        ("left", f"Date: {receipt.date_text}", ""),
        ("left", "Receipt No: CS00012873   Cashier: AMY", ""),
        ("rule", "", ""),
        ("columns", "ITEM|QTY|PRICE|AMOUNT", ""),
    ]
    for line in receipt.lines:
        rows.append(
            ("columns", f"{line.description}|{line.quantity}|{line.unit_price}|{line.amount}", "")
        )
    rows += [
        ("rule", "", ""),
        ("pair", f"SUBTOTAL|{receipt.subtotal}", ""),
        ("pair", f"GST 6%|{receipt.tax}", ""),
        ("pair", f"TOTAL {money}|{receipt.total}", "bold"),
        ("pair", f"CASH|{receipt.cash}", ""),
        ("pair", f"CHANGE|{receipt.change}", ""),
        ("rule", "", ""),
        ("center", "THANK YOU, PLEASE COME AGAIN", ""),
    ]
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


@cache
def pixel_bomb() -> bytes:
    """A 9400 x 9400 PNG of a few hundred KB: 88 megapixels to decode."""
    buffer = io.BytesIO()
    Image.new("1", (9400, 9400), 1).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
