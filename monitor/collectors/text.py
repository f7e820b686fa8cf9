"""Collector text helpers: HTML to plain text (ingest strips HTML with the same extractor), and
the keyword/place filter before storage."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from html.parser import HTMLParser
from typing import Any

# Elements whose content is not text a person reads.
_SKIP_ELEMENTS = {"script", "style", "template", "noscript", "head", "title", "svg", "math"}
# Elements that separate words: without a space, "<p>Bradford</p><p>Moor</p>" would read as
# one word.
_BLOCK_ELEMENTS = {
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
    "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main",
    "nav", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
}  # fmt: skip


class _TextExtractor(HTMLParser):
    def __init__(self, block_separator: str) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping: list[str] = []
        self._separator = block_separator

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in _SKIP_ELEMENTS:
            self._skipping.append(tag)
        elif tag in _BLOCK_ELEMENTS:
            self.parts.append(self._separator)

    def handle_startendtag(self, tag: str, attrs: Any) -> None:
        if tag in _BLOCK_ELEMENTS:
            self.parts.append(self._separator)

    def handle_endtag(self, tag: str) -> None:
        if self._skipping:
            if tag == self._skipping[-1]:
                self._skipping.pop()
        elif tag in _BLOCK_ELEMENTS:
            self.parts.append(self._separator)

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def extract_text(html: str, block_separator: str = " ") -> str:
    """The text a reader sees: tags dropped, link text kept, entities decoded; block elements
    (paragraphs, list items, line breaks) become `block_separator`."""
    parser = _TextExtractor(block_separator)
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


TextFilter = Callable[[str], bool]
"""Decides from a post's text (plus its hashtags) whether it is kept. Any callable will do, for
example ingest's place matcher; `KeywordFilter` is the one built from a source's settings."""

_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_NEWLINES = re.compile(r"\s*\n\s*")


def html_to_text(html: str) -> str:
    """Plain text from (untrusted) HTML: tags dropped, entities decoded, paragraphs kept as lines.

    Mastodon's `#<span>tag</span>` becomes `#tag`, and its split link spans join back into the
    full URL, because inline tags add no spaces.
    """
    if "<" in html or "&" in html:
        html = extract_text(html, block_separator="\n")
    return _NEWLINES.sub("\n", _SPACES.sub(" ", html)).strip()


_WORDS = re.compile(r"\w+")
_HASHTAGS = re.compile(r"#(\w+)")


class KeywordFilter:
    """Keeps text that names any keyword, hashtag or place (case-insensitive, whole words).

    Terms are matched on the text's words, not by a regex alternation: a set lookup per word
    costs the same for 5 terms or 500, where an alternation of hundreds of place names is tried
    at every character (measured: ~0.6 ms a post for 120 places; see benchmarks/jetstream.py).
    A term of several words ("Bradford Moor") matches those words in a row; a trailing "*" is a
    prefix wildcard ("protest*" matches "protesters"); hashtags match only as "#tag".
    With no terms at all it keeps everything, which suits sources that are already local
    (a council's own feed, a town's hashtag); the config refuses an empty filter for sources
    that cover a whole network.
    """

    def __init__(
        self,
        keywords: Iterable[str] = (),
        hashtags: Iterable[str] = (),
        places: Iterable[str] = (),
    ) -> None:
        self._single: set[str] = set()
        self._phrases: dict[str, list[tuple[str, ...]]] = {}
        self._prefixes: list[str] = []
        for term in [*keywords, *places]:
            prefix = term.strip().endswith("*")
            words = tuple(_WORDS.findall(term.casefold()))
            if not words:
                continue
            if prefix and len(words) == 1:
                self._prefixes.append(words[0])
            elif len(words) == 1:
                self._single.add(words[0])
            else:
                self._phrases.setdefault(words[0], []).append(words)
        self._tags = {t.casefold() for h in hashtags for t in _WORDS.findall(h)}
        self._prefix_tuple = tuple(self._prefixes)
        self.empty = not (self._single or self._phrases or self._prefixes or self._tags)

    def __call__(self, text: str) -> bool:
        if self.empty:
            return True
        folded = text.casefold()
        if self._tags and "#" in folded:
            if not self._tags.isdisjoint(_HASHTAGS.findall(folded)):
                return True
        words = _WORDS.findall(folded)
        if not self._single.isdisjoint(words):
            return True
        if self._phrases:
            for i, word in enumerate(words):
                for phrase in self._phrases.get(word, ()):
                    if tuple(words[i : i + len(phrase)]) == phrase:
                        return True
        if self._prefix_tuple:
            return any(w.startswith(self._prefix_tuple) for w in words)
        return False


def any_of(*filters: TextFilter) -> TextFilter:
    """A filter that keeps text any of `filters` keeps (e.g. keywords OR the place gazetteer)."""

    def accept(text: str) -> bool:
        return any(f(text) for f in filters)

    return accept
