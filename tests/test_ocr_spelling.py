"""The recogniser's doubts (CTC decoding that keeps the runners-up) and the choice among
readings by known words."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from rapidocr.utils.output import RapidOCROutput
from receipt_images import Receipt, render

from storage.ocr.fields import extract_fields
from storage.ocr.images import load_image
from storage.ocr.layout import TextLine
from storage.ocr.local import LocalOcrEngine
from storage.ocr.recognition import Doubt, decode
from storage.ocr.spelling import known_words, respelled

SYMBOLS = ["blank", "A", "M", "N", "R", "T", "H", " "]
BOX = ((0.0, 0.0), (200.0, 0.0), (200.0, 20.0), (0.0, 20.0))


def frames(*rows: dict[str, float]) -> np.ndarray:
    """Frames of probabilities over SYMBOLS; what a row leaves out goes to the blank."""
    matrix = np.zeros((len(rows), len(SYMBOLS)), dtype=np.float32)
    for index, row in enumerate(rows):
        for symbol, probability in row.items():
            matrix[index, SYMBOLS.index(symbol)] = probability
        matrix[index, 0] += 1 - matrix[index].sum()
    return matrix


def line(text: str, *doubts: Doubt) -> TextLine:
    return TextLine(text, BOX, 0.95, doubts)


WORDS = frozenset({"mart", "speed", "hardware", "idea", "cary", "health"})


def test_decoding_keeps_the_runners_up_where_the_recogniser_hesitated() -> None:
    reading = decode(
        frames(
            {"N": 0.65, "M": 0.25, "H": 0.06},
            {"N": 0.6},  # the same letter again: merged
            {},
            {"A": 0.99},
            {"R": 0.3},  # a blank frame that might have held an R
            {"R": 0.97},
            {"T": 0.98},
        ),
        SYMBOLS,
    )
    assert reading.text == "NART"
    assert reading.score == pytest.approx((0.65 + 0.99 + 0.97 + 0.98) / 4)
    (first,) = reading.doubts
    assert (first.at, first.length) == (0, 1)
    assert first.choices == (("N", 0.65), ("M", 0.25), ("H", 0.06))


def test_a_blank_frame_that_may_hold_a_letter_is_a_doubt_between_characters() -> None:
    reading = decode(frames({"H": 0.99}, {"A": 0.4}, {"T": 0.99}), SYMBOLS)
    assert reading.text == "HT"
    (doubt,) = reading.doubts
    assert (doubt.at, doubt.length) == (1, 0)
    assert doubt.choices == (("", 0.6), ("A", 0.4))


def test_a_word_is_read_as_the_runner_up_that_spells_a_known_word() -> None:
    read = respelled(line("99 SPEED NART S/B", Doubt(9, 1, (("N", 0.65), ("M", 0.16)))), WORDS)
    assert read.text == "99 SPEED MART S/B"


def test_accents_the_recogniser_doubted_give_way_to_the_word() -> None:
    doubt = Doubt(7, 1, (("É", 0.51), ("E", 0.47), ("È", 0.01)))
    assert respelled(line("HARDWARÉ TRADING", doubt), WORDS).text == "HARDWARE TRADING"


def test_a_digit_among_letters_gives_way_to_the_letter() -> None:
    digit = Doubt(2, 1, (("0", 0.6), ("O", 0.4)))
    assert respelled(line("FO0DICIOUS SDN BHD", digit), WORDS).text == "FOODICIOUS SDN BHD"
    initial = Doubt(6, 1, (("1", 0.83), ("I", 0.17)))
    assert respelled(line("URBAN 1DEA SDN BHD", initial), WORDS).text == "URBAN IDEA SDN BHD"
    dotted = Doubt(5, 1, (("1", 0.7), ("I", 0.3)))
    assert respelled(line("MR.D.1.Y.", dotted), WORDS).text == "MR.D.I.Y."


def test_readings_the_recogniser_found_unlikely_are_not_taken() -> None:
    unlikely = Doubt(9, 1, (("N", 0.95), ("M", 0.05)))
    assert respelled(line("99 SPEED NART", unlikely), WORDS).text == "99 SPEED NART"


def test_known_words_names_and_numbers_keep_the_first_reading() -> None:
    word = Doubt(2, 1, (("r", 0.85), ("m", 0.1)))
    assert respelled(line("Cary", word), WORDS).text == "Cary"
    name = Doubt(1, 1, (("E", 0.6), ("O", 0.4)))
    assert respelled(line("AEON CO.", name), WORDS).text == "AEON CO."
    amount = Doubt(7, 1, (("0", 0.6), ("O", 0.4)))
    assert respelled(line("TOTAL 10.50", amount), WORDS).text == "TOTAL 10.50"
    code = Doubt(1, 1, (("9", 0.6), ("g", 0.4)))
    assert respelled(line("U9", code), WORDS).text == "U9"


def test_doubts_about_spaces_do_not_join_or_split_words() -> None:
    space = Doubt(6, 0, (("", 0.5), (" ", 0.5)))
    assert respelled(line("bealthAnd", space), WORDS).text == "bealthAnd"


def test_the_shipped_words_span_the_languages_of_latin_letters() -> None:
    words = known_words()
    for word in ("restaurants", "pharmacy", "jalan", "bäckerei", "supermarché", "tienda"):
        assert word in words
    assert len(words) > 100_000
    for misread in ("nart", "bealth", "Restaurants"):
        assert misread not in words


def test_extraction_reads_the_respelled_lines() -> None:
    result = extract_fields(
        [
            TextLine(
                "LIM SENG THO HARDWARÉ TRADING",
                ((10, 10), (400, 10), (400, 40), (10, 40)),
                0.97,
                (Doubt(20, 1, (("É", 0.51), ("E", 0.47))),),
            ),
            TextLine("TOTAL 12.30", ((10, 300), (300, 300), (300, 330), (10, 330)), 0.99),
        ],
        engine="local",
    )
    assert "HARDWARE" in result.raw_text


def test_the_engine_reads_lines_as_rapidocr_does_and_keeps_its_doubts() -> None:
    """Our recognition loop over RapidOCR's lines gives RapidOCR's own text and scores."""
    data = render(Receipt(), "JPEG")
    engine = LocalOcrEngine(threads=1)
    lines = engine.recognise(data, "image/jpeg")
    model = engine._load()  # RapidOCR's own pipeline, for comparison
    image: Image.Image = load_image(data, "image/jpeg")
    output = model(image, use_rec=True)
    assert isinstance(output, RapidOCROutput)
    assert output.txts is not None
    assert output.scores is not None
    assert [line.text for line in lines] == list(output.txts)
    assert [line.score for line in lines] == pytest.approx(list(output.scores), abs=1e-4)
    for read in lines:
        for doubt in read.doubts:
            assert 0 <= doubt.at <= len(read.text)
            assert doubt.choices[0][1] < 0.9


def test_a_doubted_accent_gives_way_to_the_word_however_sure_the_recogniser_was() -> None:
    doubt = Doubt(15, 1, (("À", 0.88), ("A", 0.055), ("Ä", 0.038)))
    assert respelled(line("TSH POWER HARDWÀRE", doubt), WORDS).text == "TSH POWER HARDWARE"


def test_punctuation_is_kept_as_read() -> None:
    apostrophe = Doubt(6, 1, (("'", 0.79), ("", 0.21)))
    words = WORDS | {"dominos"}
    assert respelled(line("DOMINO'S PIZZA", apostrophe), words).text == "DOMINO'S PIZZA"
