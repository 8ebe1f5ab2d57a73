"""A word-level tokenizer for the caption language of data.py (fixed vocabulary, no download)."""
from __future__ import annotations

import re

from reference_model import data

SPECIAL = ("<pad>", "<unk>")
PAD_ID, UNK_ID = 0, 1


def caption_words() -> list[str]:
    """Every word the caption grammar can produce, in a fixed order."""
    fixed = "a moves on background the camera is pans".split()
    groups = (data.SIZES, data.COLOURS, data.SHAPES, data.DIRECTIONS, data.SPEEDS, data.BACKGROUNDS, data.STYLES, ("still",))
    words = list(fixed)
    for group in groups:
        words.extend(w for w in group if w not in words)
    return words


class WordTokenizer:
    """Lower-cased words to ids; unknown words map to <unk>, captions are padded to ``max_tokens``."""

    def __init__(self, vocab_size: int, max_tokens: int):
        words = list(SPECIAL) + caption_words()
        if len(words) > vocab_size:
            raise ValueError(f"vocabulary needs {len(words)} ids, the text encoder has {vocab_size}")
        self.ids = {w: i for i, w in enumerate(words)}
        self.max_tokens = max_tokens

    def encode(self, text: str) -> tuple[list[int], int]:
        """(padded ids, number of valid tokens)."""
        tokens = [self.ids.get(w, UNK_ID) for w in re.findall(r"[a-z]+", text.lower())][: self.max_tokens]
        return tokens + [PAD_ID] * (self.max_tokens - len(tokens)), len(tokens)
