"""Pure: the rule query language — tokenizer, recursive-descent parser, and compiled matchers.

The language is the boolean search social-listening analysts already write:

    ("share before" NEAR/3 deleted) OR (apparently AND hotel*) NOT debunked

- a word matches that word in any case, with or without accents, and through leetspeak,
  spacing and repeated letters (see `normalise`); `hotel*` matches words starting "hotel"
  (at least three letters before the `*`, and only at the end of a word);
- "quoted phrases" match those words in that order, next to each other (words in a phrase
  may end in `*` too);
- `<time>` matches a clock time such as 7pm, 19:30 or 7.30 pm;
- `a NEAR/n b` matches when a and b are at most n words apart, in either order;
  `NEAR/nf` asks for a before b;
- `NOT`, `AND`, `OR` and parentheses. Operators are written in capitals: a lowercase "and",
  "or", "not" or "near" is an ordinary word.

Precedence, tightest first: NEAR, NOT, AND, OR. So `a OR b AND c` means `a OR (b AND c)`,
`NOT a NEAR/3 b` means `NOT (a NEAR/3 b)`, and `a NOT b` means `a AND NOT b`.

There are no regular expressions, so there is nothing to backtrack; and a query's size is
limited when it is parsed (`Limits`), so the work to match one post is at most proportional
to the post's length times the query's size.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from monitor.rules.normalise import TIME_FORM, Doc, query_keys, split_words

Span = tuple[int, int]


class QueryError(ValueError):
    """A query that cannot be used; `pos` is the 0-based character offset it refers to."""

    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos

    def __str__(self) -> str:
        return f"{self.message} (at character {self.pos + 1})"


@dataclass(frozen=True, slots=True)
class Limits:
    """Caps that keep every query cheap to match, checked when a rule is loaded."""

    max_chars: int = 4000
    max_depth: int = 12
    max_nodes: int = 200
    max_near: int = 8
    max_near_distance: int = 30
    max_wildcards: int = 40
    min_prefix: int = 3
    max_phrase_words: int = 12


DEFAULT_LIMITS = Limits()
OPERATORS = frozenset({"AND", "OR", "NOT"})
_STOPWORDS = frozenset(
    "a an and are as at be but by for from has have he her his i if in is it its me my no not "
    "of on or our she so that the their them they this to us was we were what when where who "
    "will with you your".split()
)

# --- AST -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    keys: tuple[str, ...]
    prefix: bool
    pos: int

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class Time:
    pos: int

    def __str__(self) -> str:
        return "<time>"


@dataclass(frozen=True, slots=True)
class Phrase:
    text: str
    words: tuple[Word | Time, ...]
    pos: int

    def __str__(self) -> str:
        return f'"{self.text}"'


@dataclass(frozen=True, slots=True)
class Near:
    left: Node
    right: Node
    distance: int
    ordered: bool
    pos: int

    def __str__(self) -> str:
        op = f"NEAR/{self.distance}{'f' if self.ordered else ''}"
        return f"{_wrap(self.left)} {op} {_wrap(self.right)}"


@dataclass(frozen=True, slots=True)
class Not:
    child: Node
    pos: int

    def __str__(self) -> str:
        child = self.child
        return f"NOT ({child})" if isinstance(child, And | Or | Near) else f"NOT {child}"


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]
    pos: int

    def __str__(self) -> str:
        return " AND ".join(_wrap(c) for c in self.children)


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]
    pos: int

    def __str__(self) -> str:
        return " OR ".join(_wrap(c) for c in self.children)


Node = Word | Time | Phrase | Near | Not | And | Or
POSITIONAL = (Word, Time, Phrase, Near)


def _wrap(node: Node) -> str:
    return f"({node})" if isinstance(node, And | Or) else str(node)


def is_positional(node: Node) -> bool:
    """Whether a node matches at places in the text (and so can stand beside NEAR)."""
    if isinstance(node, Or):
        return all(is_positional(c) for c in node.children)
    return isinstance(node, POSITIONAL)


def walk(node: Node) -> Iterator[Node]:
    yield node
    if isinstance(node, Near):
        yield from walk(node.left)
        yield from walk(node.right)
    elif isinstance(node, Not):
        yield from walk(node.child)
    elif isinstance(node, And | Or):
        for c in node.children:
            yield from walk(c)
    elif isinstance(node, Phrase):
        yield from node.words


# --- tokenizer -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # WORD PHRASE TIME LPAREN RPAREN AND OR NOT NEAR END
    text: str
    pos: int
    distance: int = 0
    ordered: bool = False


_QUOTES = {'"': '"', "“": "”", "”": "”", "„": "“"}
_BREAKS = frozenset(' \t\r\n()"“”„')


def tokenize(query: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(query)
    while i < n:
        c = query[i]
        if c.isspace():
            i += 1
        elif c == "(":
            tokens.append(Token("LPAREN", c, i))
            i += 1
        elif c == ")":
            tokens.append(Token("RPAREN", c, i))
            i += 1
        elif c in _QUOTES:
            close = query.find(_QUOTES[c], i + 1)
            if c != '"' and close < 0:
                close = query.find('"', i + 1)
            if close < 0:
                raise QueryError("this quote is never closed", i)
            tokens.append(Token("PHRASE", query[i + 1 : close], i))
            i = close + 1
        else:
            j = i
            while j < n and query[j] not in _BREAKS:
                j += 1
            tokens.append(_word_token(query[i:j], i))
            i = j
    tokens.append(Token("END", "", n))
    return tokens


def _word_token(text: str, pos: int) -> Token:
    if text in OPERATORS:
        return Token(text, text, pos)
    if text.startswith("NEAR"):
        rest = text[4:]
        if not rest.startswith("/"):
            raise QueryError("NEAR needs a distance, like NEAR/5", pos)
        rest = rest[1:]
        ordered = rest.endswith("f")
        digits = rest[:-1] if ordered else rest
        if not digits.isdigit():
            raise QueryError(f"{text!r}: NEAR needs a whole number of words, like NEAR/5", pos)
        return Token("NEAR", text, pos, distance=int(digits), ordered=ordered)
    if text.lower() == "<time>":
        return Token("TIME", text, pos)
    return Token("WORD", text, pos)


# --- parser ----------------------------------------------------------------------------------


class _Parser:
    def __init__(self, query: str, limits: Limits) -> None:
        self.query = query
        self.limits = limits
        self.tokens = tokenize(query)
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        t = self.tokens[self.i]
        self.i += 1
        return t

    def parse(self) -> Node:
        if self.tok.kind == "END":
            raise QueryError("the query is empty", 0)
        node = self.parse_or()
        t = self.tok
        if t.kind == "RPAREN":
            raise QueryError("this ')' has no matching '('", t.pos)
        if t.kind != "END":  # pragma: no cover - parse_and reports adjacency first
            raise QueryError(f"unexpected {t.text!r}", t.pos)
        return node

    def parse_or(self) -> Node:
        first = self.parse_and()
        children = [first]
        while self.tok.kind == "OR":
            self.take()
            children.append(self.parse_and())
        return first if len(children) == 1 else Or(tuple(children), first_pos(first))

    def parse_and(self) -> Node:
        first = self.parse_unary()
        children = [first]
        while True:
            t = self.tok
            if t.kind == "AND":
                self.take()
                children.append(self.parse_unary())
            elif t.kind == "NOT":  # "a NOT b" reads as "a AND NOT b"
                self.take()
                children.append(Not(self.parse_unary(), t.pos))
            elif t.kind in ("WORD", "PHRASE", "TIME", "LPAREN"):
                upper = t.text.upper()
                if t.kind == "WORD" and (upper in OPERATORS or upper.startswith("NEAR/")):
                    raise QueryError(
                        f"operators are written in capitals: write {upper}, not {t.text}", t.pos
                    )
                raise QueryError(
                    f"expected AND, OR, NOT or NEAR/n before {t.text or '('!r} "
                    "(to match words next to each other, put them in quotes)",
                    t.pos,
                )
            else:
                break
        return first if len(children) == 1 else And(tuple(children), first_pos(first))

    def parse_unary(self) -> Node:
        t = self.tok
        if t.kind == "NOT":
            self.take()
            return Not(self.enter(self.parse_unary, t.pos), t.pos)
        return self.parse_near()

    def parse_near(self) -> Node:
        left = self.parse_atom()
        while self.tok.kind == "NEAR":
            t = self.take()
            right = self.parse_atom()
            if t.distance > self.limits.max_near_distance:
                raise QueryError(
                    f"NEAR/{t.distance} is too far: at most NEAR/{self.limits.max_near_distance}",
                    t.pos,
                )
            for side in (left, right):
                if not is_positional(side):
                    raise QueryError(
                        "NEAR needs words, phrases or an OR of them on each side "
                        "(AND and NOT cannot be near something)",
                        first_pos(side),
                    )
            left = Near(left, right, t.distance, t.ordered, t.pos)
        return left

    def parse_atom(self) -> Node:
        t = self.tok
        if t.kind == "LPAREN":
            self.take()
            node = self.enter(self.parse_or, t.pos)
            if self.tok.kind != "RPAREN":
                raise QueryError("this '(' is never closed", t.pos)
            self.take()
            return node
        if t.kind == "WORD":
            self.take()
            return self.word_or_phrase(t.text, t.pos)
        if t.kind == "PHRASE":
            self.take()
            return self.phrase(t.text, t.pos)
        if t.kind == "TIME":
            self.take()
            return Time(t.pos)
        if t.kind == "END":
            raise QueryError("the query ends where a word, phrase or '(' was expected", t.pos)
        if t.kind == "RPAREN":
            raise QueryError("expected a word, phrase or '(' before ')'", t.pos)
        raise QueryError(f"{t.text} needs a word, phrase or '(' before and after it", t.pos)

    def enter(self, parse: Callable[[], Node], pos: int) -> Node:
        self.depth += 1
        if self.depth > self.limits.max_depth:
            raise QueryError(f"nested more than {self.limits.max_depth} deep", pos)
        try:
            return parse()
        finally:
            self.depth -= 1

    def word_or_phrase(self, text: str, pos: int) -> Node:
        """A bare word; one that splits into several ("co-op") is a phrase of them."""
        if text.startswith("@"):
            raise QueryError("rules never target an account: remove the @name", pos)
        words = self.words(text, pos)
        if len(words) == 1:
            return words[0]
        return Phrase(text, tuple(words), pos)

    def phrase(self, text: str, pos: int) -> Node:
        if any(w.startswith("@") for w in text.split()):
            raise QueryError("rules never target an account: remove the @name", pos)
        words: list[Word | Time] = []
        for m in re.finditer(r"\S+", text):
            part, at = m.group(0), pos + 1 + m.start()
            if part.lower() == "<time>":
                words.append(Time(at))
            else:
                words.extend(self.words(part, at))
        if not words:
            raise QueryError("this phrase has no words in it", pos)
        if len(words) > self.limits.max_phrase_words:
            raise QueryError(f"a phrase may have at most {self.limits.max_phrase_words} words", pos)
        if len(words) == 1:
            return words[0]
        return Phrase(text, tuple(words), pos)

    def words(self, text: str, pos: int) -> list[Word | Time]:
        star = text.find("*")
        prefix = False
        if star >= 0:
            if star != len(text) - 1:
                raise QueryError("a wildcard * may only end a word, like hotel*", pos + star)
            text = text[:-1]
            prefix = True
        parts = split_words(text)
        if not parts:
            raise QueryError(f"{text + ('*' if prefix else '')!r} has no letters or digits", pos)
        out: list[Word | Time] = []
        for k, (raw, is_time) in enumerate(parts):
            last = k == len(parts) - 1
            if is_time and not (prefix and last):
                out.append(Word(raw, query_keys(raw), False, pos))
                continue
            keys = query_keys(raw)
            if not keys:
                raise QueryError(f"{raw!r} has no letters or digits", pos)
            if prefix and last:
                shortest = min(len(k.lstrip("~")) for k in keys)
                if shortest < self.limits.min_prefix:
                    raise QueryError(
                        f"a wildcard needs at least {self.limits.min_prefix} letters before "
                        f"the *, or it matches too much",
                        pos + len(text),
                    )
            out.append(Word(raw + ("*" if prefix and last else ""), keys, prefix and last, pos))
        return out


def first_pos(node: Node) -> int:
    return node.pos


def parse(query: str, limits: Limits = DEFAULT_LIMITS) -> Node:
    """Parse a query, or raise `QueryError` saying where and why. Checks `limits`."""
    if len(query) > limits.max_chars:
        raise QueryError(
            f"the query is longer than {limits.max_chars} characters", limits.max_chars
        )
    node = _Parser(query, limits).parse()
    nodes = list(walk(node))
    if len(nodes) > limits.max_nodes:
        raise QueryError(f"the query has more than {limits.max_nodes} words and operators", 0)
    nears = [n for n in nodes if isinstance(n, Near)]
    if len(nears) > limits.max_near:
        raise QueryError(f"at most {limits.max_near} NEAR operators in one query", nears[-1].pos)
    stars = [n for n in nodes if isinstance(n, Word) and n.prefix]
    if len(stars) > limits.max_wildcards:
        raise QueryError(f"at most {limits.max_wildcards} wildcards in one query", stars[-1].pos)
    return node


# --- anchors: the words at least one of which a post must contain to possibly match --------


@dataclass(frozen=True, slots=True)
class Anchors:
    """Exact forms and prefixes; a post containing none of them cannot match the query."""

    exact: frozenset[str] = frozenset()
    prefixes: frozenset[str] = frozenset()

    def __or__(self, other: Anchors) -> Anchors:
        return Anchors(self.exact | other.exact, self.prefixes | other.prefixes)

    def cost(self) -> float:
        """Lower is a better filter: few keys, long keys, exact rather than prefix."""
        keys = [*self.exact, *self.prefixes]
        if not keys:
            return float("inf")
        score = 0.0
        for k in keys:
            bare = k.lstrip("~")
            score += 8.0 if bare in _STOPWORDS else 1.0 + 4.0 / max(len(bare), 1)
        return score + 2.0 * len(self.prefixes)


def anchors(node: Node) -> Anchors | None:
    """Anchors for `node`, or None when it can match a post without any positive word."""
    if isinstance(node, Word):
        keys = frozenset(node.keys)
        return Anchors(prefixes=keys) if node.prefix else Anchors(exact=keys)
    if isinstance(node, Time):
        return Anchors(exact=frozenset({TIME_FORM}))
    if isinstance(node, Not):
        return None
    if isinstance(node, Or):
        out = Anchors()
        for c in node.children:
            a = anchors(c)
            if a is None:
                return None
            out = out | a
        return out
    parts: Sequence[Node]
    if isinstance(node, Phrase):
        parts = node.words
    elif isinstance(node, Near):
        parts = (node.left, node.right)
    else:
        parts = node.children
    options = [a for a in (anchors(c) for c in parts) if a is not None]
    return min(options, key=Anchors.cost) if options else None


# --- compiled matchers -----------------------------------------------------------------------

Test = Callable[[Doc], bool]
Spans = Callable[[Doc], list[Span]]


@dataclass(frozen=True, slots=True)
class Compiled:
    """A parsed query ready to run: `test(doc)` says whether it matches."""

    source: str
    ast: Node
    test: Test
    anchors: Anchors | None
    size: int = field(default=0)


def compile_query(query: str, limits: Limits = DEFAULT_LIMITS) -> Compiled:
    ast = parse(query, limits)
    return Compiled(query, ast, _test(ast), anchors(ast), sum(1 for _ in walk(ast)))


def _prefix_positions(doc: Doc, keys: tuple[str, ...]) -> list[int]:
    out: set[int] = set()
    for form, positions in doc.index.items():
        if form.startswith(keys):
            out.update(positions)
    return sorted(out)


def _word_positions(node: Word | Time) -> Callable[[Doc], list[int]]:
    if isinstance(node, Time):
        return lambda doc: doc.index.get(TIME_FORM, [])
    keys = node.keys
    if node.prefix:
        return lambda doc: _prefix_positions(doc, keys)
    if len(keys) == 1:
        (k,) = keys
        return lambda doc: doc.index.get(k, [])

    def positions(doc: Doc) -> list[int]:
        found: list[int] = []
        for k in keys:
            p = doc.index.get(k)
            if p:
                found = p if not found else sorted(set(found) | set(p))
        return found

    return positions


def _spans(node: Node) -> Spans:
    if isinstance(node, Word | Time):
        positions = _word_positions(node)
        return lambda doc: [(p, p) for p in positions(doc)]
    if isinstance(node, Phrase):
        parts = [_word_positions(w) for w in node.words]
        width = len(parts) - 1

        def phrase_spans(doc: Doc) -> list[Span]:
            starts = parts[0](doc)
            if not starts:
                return []
            rest: list[set[int]] = []
            for get in parts[1:]:
                found = get(doc)
                if not found:
                    return []
                rest.append(set(found))
            return [
                (s, s + width) for s in starts if all(s + k + 1 in r for k, r in enumerate(rest))
            ]

        return phrase_spans
    if isinstance(node, Or):
        kids = [_spans(c) for c in node.children]

        def or_spans(doc: Doc) -> list[Span]:
            out: set[Span] = set()
            for k in kids:
                out.update(k(doc))
            return sorted(out)

        return or_spans
    if isinstance(node, Near):
        return _near_spans(node)
    raise TypeError(f"{type(node).__name__} has no positions")  # parser prevents this


def _near_spans(node: Near) -> Spans:
    left, right = _spans(node.left), _spans(node.right)
    n, ordered = node.distance, node.ordered

    def near(doc: Doc) -> list[Span]:
        a = left(doc)
        if not a:
            return []
        b = right(doc)
        if not b:
            return []
        b_starts = [s for s, _ in b]
        b_by_end = sorted(b, key=lambda s: s[1])
        b_ends = [e for _, e in b_by_end]
        out: list[Span] = []
        for a_start, a_end in a:
            # b after a: b.start in [a.end + 1, a.end + 1 + n]; take the nearest.
            k = bisect.bisect_left(b_starts, a_end + 1)
            if k < len(b) and b_starts[k] <= a_end + 1 + n:
                out.append((a_start, max(a_end, b[k][1])))
            if ordered:
                continue
            # b before a: b.end in [a.start - 1 - n, a.start - 1]; take the nearest.
            k = bisect.bisect_right(b_ends, a_start - 1) - 1
            if k >= 0 and b_ends[k] >= a_start - 1 - n:
                out.append((min(a_start, b_by_end[k][0]), a_end))
        return sorted(set(out))

    return near


def _test(node: Node) -> Test:
    if isinstance(node, Word) and not node.prefix:
        keys = node.keys
        if len(keys) == 1:
            (k,) = keys
            return lambda doc: k in doc.index
        if len(keys) == 2:
            k1, k2 = keys
            return lambda doc: k1 in doc.index or k2 in doc.index
        return lambda doc: any(k in doc.index for k in keys)
    if isinstance(node, Word):
        prefixes = node.keys
        return lambda doc: any(f.startswith(prefixes) for f in doc.index)
    if isinstance(node, Time):
        return lambda doc: TIME_FORM in doc.index
    if isinstance(node, Not):
        child = _test(node.child)
        return lambda doc: not child(doc)
    if isinstance(node, And):
        kids = tuple(_test(c) for c in _cheap_first(node.children))
        return lambda doc: all(k(doc) for k in kids)
    if isinstance(node, Or):
        kids = tuple(_test(c) for c in _cheap_first(node.children))
        return lambda doc: any(k(doc) for k in kids)
    spans = _spans(node)
    return lambda doc: bool(spans(doc))


def _cheap_first(children: Sequence[Node]) -> list[Node]:
    """Evaluate plain words before phrases and NEARs: same result, less work."""
    return sorted(children, key=lambda c: sum(1 for _ in walk(c)))


# --- explanation -----------------------------------------------------------------------------


def explain(node: Node, doc: Doc, indent: int = 0) -> list[str]:
    """Lines saying, for each part of the query, whether it matched and on which words."""
    words = doc.words
    pad = "  " * indent
    ok = _test(node)(doc)
    mark = "yes" if ok else "no "
    lines: list[str] = []
    if is_positional(node):
        spans = _spans(node)(doc)
        where = ", ".join(repr(" ".join(words[s : e + 1])) for s, e in spans[:5])
        more = f" (+{len(spans) - 5} more)" if len(spans) > 5 else ""
        lines.append(f"{pad}[{mark}] {node}" + (f"  <- {where}{more}" if where else ""))
        if isinstance(node, Near | Or):
            kids = [node.left, node.right] if isinstance(node, Near) else list(node.children)
            if isinstance(node, Near) or len(kids) <= 12:
                for c in kids:
                    lines += explain(c, doc, indent + 1)
        return lines
    title = "NOT" if isinstance(node, Not) else "all of" if isinstance(node, And) else "any of"
    lines.append(f"{pad}[{mark}] {title}")
    if isinstance(node, Not):
        lines += explain(node.child, doc, indent + 1)
    elif isinstance(node, And | Or):
        for c in node.children:
            lines += explain(c, doc, indent + 1)
    return lines


def matched_words(node: Node, doc: Doc, limit: int = 6) -> list[str]:
    """The post's words that positive leaves of the query matched (for a hit's reason)."""
    words = doc.words
    found: list[str] = []
    seen: set[int] = set()

    def visit(n: Node, positive: bool) -> None:
        if isinstance(n, Not):
            visit(n.child, not positive)
            return
        if isinstance(n, Word | Time | Phrase) and positive:
            for s, e in _spans(n)(doc):
                if s not in seen and len(found) < limit:
                    seen.add(s)
                    found.append(" ".join(words[s : e + 1]))
            return
        if isinstance(n, Near):
            visit(n.left, positive)
            visit(n.right, positive)
        elif isinstance(n, And | Or):
            for c in n.children:
                visit(c, positive)

    visit(node, True)
    return found
