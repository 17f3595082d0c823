"""The text analysers of scikit-learn's TfidfVectorizer, for serving without importing scikit-learn.

Loading scikit-learn (and the SciPy modules it pulls in) costs a serving process about 85 MB and a
second of start-up, to use three small functions: the word, `char` and `char_wb` n-gram analysers. They
are reproduced here for the settings Truce trains with (no lower-casing, accent stripping, stop words or
custom preprocessor: `model.text.normalize` does that before). `tests/test_model_artifact.py` checks
they give exactly scikit-learn's n-grams on every training text; training (which imports scikit-learn
anyway) checks the exported arrays score like the fitted pipeline.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_WHITE_SPACES = re.compile(r"\s\s+")

Analyzer = Callable[[str], list[str]]


def word_ngrams(token_pattern: str, ngram_range: tuple[int, int]) -> Analyzer:
    """`TfidfVectorizer(analyzer="word", token_pattern=..., ngram_range=..., lowercase=False)`."""
    findall = re.compile(token_pattern).findall
    min_n, max_n = ngram_range

    def analyze(text: str) -> list[str]:
        original = findall(text)
        if max_n == 1:
            return original
        tokens = list(original) if min_n == 1 else []
        count = len(original)
        for n in range(max(min_n, 2), min(max_n + 1, count + 1)):
            tokens.extend(" ".join(original[i : i + n]) for i in range(count - n + 1))
        return tokens

    return analyze


def char_ngrams(ngram_range: tuple[int, int]) -> Analyzer:
    """`TfidfVectorizer(analyzer="char", ngram_range=..., lowercase=False)`."""
    min_n, max_n = ngram_range

    def analyze(text: str) -> list[str]:
        text = _WHITE_SPACES.sub(" ", text)
        grams = list(text) if min_n == 1 else []
        for n in range(max(min_n, 2), min(max_n + 1, len(text) + 1)):
            grams.extend(text[i : i + n] for i in range(len(text) - n + 1))
        return grams

    return analyze


def char_wb_ngrams(ngram_range: tuple[int, int]) -> Analyzer:
    """`TfidfVectorizer(analyzer="char_wb", ngram_range=..., lowercase=False)`: character n-grams
    inside words, each word padded with a space on both sides."""
    min_n, max_n = ngram_range

    def analyze(text: str) -> list[str]:
        grams: list[str] = []
        append = grams.append
        for word in _WHITE_SPACES.sub(" ", text).split():
            w = " " + word + " "
            length = len(w)
            for n in range(min_n, max_n + 1):
                offset = 0
                append(w[offset : offset + n])
                while offset + n < length:
                    offset += 1
                    append(w[offset : offset + n])
                if offset == 0:  # a word shorter than n is counted once
                    break
        return grams

    return analyze


def build_analyzer(analyzer: str, ngram_range: tuple[int, int], token_pattern: str) -> Analyzer:
    if analyzer == "word":
        return word_ngrams(token_pattern, ngram_range)
    if analyzer == "char":
        return char_ngrams(ngram_range)
    if analyzer == "char_wb":
        return char_wb_ngrams(ngram_range)
    raise ValueError(f"unknown analyser {analyzer!r}")
