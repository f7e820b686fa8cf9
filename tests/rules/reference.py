"""A deliberately naive reference for the query language's meaning, used to check the fast
compiled matchers: every node's spans computed by brute force from the positions' forms."""

from __future__ import annotations

from monitor.rules.normalise import TIME_FORM, Doc
from monitor.rules.query import And, Near, Node, Not, Or, Phrase, Time, Word

Span = tuple[int, int]


def _word_at(word: Word | Time, forms: tuple[str, ...]) -> bool:
    if isinstance(word, Time):
        return TIME_FORM in forms
    if word.prefix:
        return any(f.startswith(k) for f in forms for k in word.keys)
    return any(f == k for f in forms for k in word.keys)


def spans(node: Node, doc: Doc) -> set[Span]:
    n = len(doc.positions)
    if isinstance(node, Word | Time):
        return {(i, i) for i in range(n) if _word_at(node, doc.positions[i])}
    if isinstance(node, Phrase):
        w = len(node.words)
        return {
            (i, i + w - 1)
            for i in range(n - w + 1)
            if all(_word_at(node.words[k], doc.positions[i + k]) for k in range(w))
        }
    if isinstance(node, Or):
        return set().union(*(spans(c, doc) for c in node.children))
    if isinstance(node, Near):
        out: set[Span] = set()
        for a in spans(node.left, doc):
            for b in spans(node.right, doc):
                if b[0] > a[1] and b[0] - a[1] - 1 <= node.distance:
                    out.add((a[0], b[1]))
                elif not node.ordered and b[1] < a[0] and a[0] - b[1] - 1 <= node.distance:
                    out.add((b[0], a[1]))
        return out
    raise TypeError(node)


def matches(node: Node, doc: Doc) -> bool:
    if isinstance(node, Not):
        return not matches(node.child, doc)
    if isinstance(node, And):
        return all(matches(c, doc) for c in node.children)
    if isinstance(node, Or) and not all(
        isinstance(c, Word | Time | Phrase | Near | Or) for c in node.children
    ):
        return any(matches(c, doc) for c in node.children)
    if isinstance(node, Or):
        return any(matches(c, doc) for c in node.children)
    return bool(spans(node, doc))
