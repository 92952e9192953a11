"""Writes the known words that receipt reading prefers among the recogniser's readings.

    python bench/build_lexicon.py [--out storage/ocr/model/words.u64] [--per-language N]

The words are the N most frequent of each language written in Latin letters, as wordfreq
counts them (the ``train`` extra), lower case, letters only, at least two of them, written
as ``storage.ocr.spelling.Lexicon`` holds them: their sorted 64-bit hashes. The same
wordfreq gives the same bytes; ``--list FILE`` writes the words too, to read.
"""

from __future__ import annotations

import argparse
import unicodedata
from pathlib import Path

from storage.ocr.spelling import WORDS, Lexicon

# wordfreq's languages written in Latin letters.
LANGUAGES: tuple[str, ...] = ("ca", "cs", "da", "de", "en", "es", "fi", "fil", "fr", "hu")
LANGUAGES += ("id", "is", "it", "lt", "lv", "ms", "nb", "nl", "pl", "pt", "ro", "sh", "sk")
LANGUAGES += ("sl", "sv", "tr")


def words(per_language: int) -> list[str]:
    from wordfreq import top_n_list

    found: set[str] = set()
    for language in LANGUAGES:
        for word in top_n_list(language, per_language):
            word = unicodedata.normalize("NFC", word).lower()
            if len(word) >= 2 and word.isalpha():
                found.add(word)
    return sorted(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=WORDS)
    parser.add_argument("--per-language", type=int, default=25_000)
    parser.add_argument("--list", type=Path, help="also write the words, one a line")
    args = parser.parse_args()
    found = words(args.per_language)
    Lexicon.of(found).save(args.out)
    if args.list:
        args.list.write_text("\n".join(found) + "\n", encoding="utf-8")
    print(f"{len(found)} words from {len(LANGUAGES)} languages: {args.out}")


if __name__ == "__main__":
    main()
