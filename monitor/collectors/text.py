"""Collector text helpers: HTML to plain text, and the keyword/place filter before storage."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from html.parser import HTMLParser

TextFilter = Callable[[str], bool]
"""Decides from a post's text (plus its hashtags) whether it is kept. Any callable will do, for
example ingest's place matcher; `KeywordFilter` is the one built from a source's settings."""

_BLOCK_TAGS = frozenset(
    {"p", "div", "br", "li", "ul", "ol", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "tr"}
)
_SKIP_TAGS = frozenset({"script", "style", "template", "noscript"})


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_NEWLINES = re.compile(r"\s*\n\s*")


def html_to_text(html: str) -> str:
    """Plain text from (untrusted) HTML: tags dropped, entities decoded, paragraphs kept as lines.

    Mastodon's `#<span>tag</span>` becomes `#tag`, and its split link spans join back into the
    full URL, because inline tags add no spaces.
    """
    if "<" not in html and "&" not in html:
        return _NEWLINES.sub("\n", _SPACES.sub(" ", html)).strip()
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    return _NEWLINES.sub("\n", _SPACES.sub(" ", text)).strip()


class KeywordFilter:
    """Keeps text that names any keyword, hashtag or place (case-insensitive, whole words).

    One compiled alternation is matched per post, so the cost barely grows with the term list.
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
        words = sorted(
            {w.strip() for w in [*keywords, *places] if w.strip()}, key=len, reverse=True
        )
        tags = sorted({t.strip().lstrip("#") for t in hashtags if t.strip().lstrip("#")})
        alternatives = [_word_pattern(w) for w in words] + [
            r"#" + re.escape(t) + r"(?![\w])" for t in tags
        ]
        self.empty = not alternatives
        self._pattern = re.compile("|".join(alternatives), re.IGNORECASE) if alternatives else None

    def __call__(self, text: str) -> bool:
        if self._pattern is None:
            return True
        return self._pattern.search(text) is not None


def _word_pattern(word: str) -> str:
    # Spaces in a place name ("Bradford Moor") match any run of whitespace; a trailing "*"
    # is a prefix wildcard ("protest*" matches "protesters"), as in social-listening queries.
    prefix = word.endswith("*")
    core = word.rstrip("*")
    body = r"\s+".join(re.escape(part) for part in core.split())
    return r"(?<![\w])" + body + (r"" if prefix else r"(?![\w])")


def any_of(*filters: TextFilter) -> TextFilter:
    """A filter that keeps text any of `filters` keeps (e.g. keywords OR the place gazetteer)."""

    def accept(text: str) -> bool:
        return any(f(text) for f in filters)

    return accept
