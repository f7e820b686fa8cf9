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
import functools
import itertools
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from monitor.rules.normalise import (
    EMPHASIS,
    TIME_FORM,
    Doc,
    pair_key,
    query_keys,
    remember_word,
    split_words,
)

Span = tuple[int, int]
T = TypeVar("T")


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
MAX_SPANS = 4096  # most places one part of a query is tracked at in one post
OPERATORS = frozenset({"AND", "OR", "NOT"})
# Very common English words: a poor choice of word to look a rule up by, so a phrase is filed
# under its rarer words ("breed like" under "breed"). Only affects speed, never results.
_STOPWORDS = frozenset(
    "a about after again all also an and any are as at back be because been before being but "
    "by can come could day did do does down even every first for from get go going good got "
    "had has have he her here him his how i if in into is it its just know last like look "
    "made make many me more most much my new no not now of off on one only or other our out "
    "over people really right said say see she should show so some take than that the their "
    "them then there these they think this those time to too turn two up us very want was way "
    "we well were what when where which who will with would year you your".split()
)

# --- AST -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Word:
    text: str = field(compare=False)
    keys: tuple[str, ...]
    prefix: bool
    pos: int = field(compare=False)  # where in the query; not part of its meaning

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class Time:
    pos: int = field(compare=False)  # where in the query; not part of its meaning

    def __str__(self) -> str:
        return "<time>"


@dataclass(frozen=True, slots=True)
class Phrase:
    text: str = field(compare=False)
    words: tuple[Word | Time, ...]
    pos: int = field(compare=False)  # where in the query; not part of its meaning

    def __str__(self) -> str:
        return f'"{self.text}"'


@dataclass(frozen=True, slots=True)
class Near:
    left: Node
    right: Node
    distance: int
    ordered: bool
    pos: int = field(compare=False)  # where in the query; not part of its meaning

    def __str__(self) -> str:
        op = f"NEAR/{self.distance}{'f' if self.ordered else ''}"
        return f"{_wrap(self.left)} {op} {_wrap(self.right)}"


@dataclass(frozen=True, slots=True)
class Not:
    child: Node
    pos: int = field(compare=False)  # where in the query; not part of its meaning

    def __str__(self) -> str:
        child = self.child
        return f"NOT ({child})" if isinstance(child, And | Or | Near) else f"NOT {child}"


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]
    pos: int = field(compare=False)  # where in the query; not part of its meaning

    def __str__(self) -> str:
        return " AND ".join(_wrap(c) for c in self.children)


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]
    pos: int = field(compare=False)  # where in the query; not part of its meaning

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
            remember_word(keys[0], prefix and last)
            if prefix and last:
                if len(keys[0]) < self.limits.min_prefix:
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
    pairs: frozenset[str] = frozenset()  # "form form" of two neighbouring words (Doc.pairs)

    def __or__(self, other: Anchors) -> Anchors:
        return Anchors(
            self.exact | other.exact, self.prefixes | other.prefixes, self.pairs | other.pairs
        )

    def cost(self) -> float:
        """Lower is a better filter: few keys, long keys, exact rather than prefix, and word
        pairs best of all. Only the main form of each word counts (its ~ form comes along)."""
        keys = [k for k in (*self.exact, *self.prefixes) if not k.startswith(EMPHASIS)]
        pairs = [k for k in self.pairs if not k.startswith(EMPHASIS) and f" {EMPHASIS}" not in k]
        if not keys and not pairs:
            return float("inf")
        score = 0.0
        for k in keys:
            score += 8.0 if k in _STOPWORDS else 1.0 + 4.0 / max(len(k), 1)
        for k in pairs:
            a, _, b = k.partition(" ")
            score += 3.0 if a in _STOPWORDS and b in _STOPWORDS else 0.4
        return score + 2.0 * len(self.prefixes)


@functools.lru_cache(maxsize=65536)
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
        options = [a for a in (anchors(c) for c in node.words) if a is not None]
        options += list(_phrase_pairs(node))
        return min(options, key=Anchors.cost)
    if isinstance(node, Near):
        parts = (node.left, node.right)
    else:
        parts = node.children
    options = [a for a in (anchors(c) for c in parts) if a is not None]
    return min(options, key=Anchors.cost) if options else None


def _word_keys(word: Word | Time) -> tuple[str, ...] | None:
    if isinstance(word, Time):
        return (TIME_FORM,)
    return None if word.prefix else word.keys


@functools.lru_cache(maxsize=65536)
def _phrase_pairs(node: Phrase) -> tuple[Anchors, ...]:
    """For each two neighbouring exact words of a phrase, the pair keys a post must have."""
    out: list[Anchors] = []
    for first, second in zip(node.words, node.words[1:], strict=False):
        a, b = _word_keys(first), _word_keys(second)
        if a is not None and b is not None:
            out.append(Anchors(pairs=frozenset(pair_key(x, y) for x in a for y in b)))
    return tuple(out)


def required_clauses(node: Node, most: int = 3) -> tuple[Anchors, ...]:
    """Up to `most` anchor sets that a matching post must *each* hit (an AND of ORs): every
    word of a phrase, both sides of a NEAR, every part of an AND. The rarest-looking are kept,
    so that a rule is only tried when all of them are present."""
    found: list[Anchors] = []

    def visit(n: Node) -> None:
        if isinstance(n, Word | Time):
            a = anchors(n)
            if a is not None:
                found.append(a)
        elif isinstance(n, Phrase):
            for w in n.words:
                visit(w)
            found.extend(_phrase_pairs(n))
        elif isinstance(n, Near):
            visit(n.left)
            visit(n.right)
        elif isinstance(n, And):
            for c in n.children:
                visit(c)
        elif isinstance(n, Or):
            a = anchors(n)
            if a is not None:
                found.append(a)

    visit(node)
    unique = list(dict.fromkeys(found))
    return tuple(sorted(unique, key=Anchors.cost)[:most])


# --- compiled matchers ---

# Equal parts of different rules (a list of hearsay phrases copied into ten rules) share one
# number, and their results are kept per post in `Doc.memo`, so each is worked out once.
_shared: dict[Node, int] = {}
_next_id = itertools.count()


def _memo_id(node: Node) -> int:
    found = _shared.get(node)
    if found is None:
        if len(_shared) > 100_000:  # forgetting only loses sharing; ids stay unique
            _shared.clear()
        found = _shared[node] = next(_next_id)
    return found


def _memoised(node: Node, fn: Callable[[Doc], T], spans: bool) -> Callable[[Doc], T]:
    key = 2 * _memo_id(node) + spans  # a part's yes/no and its positions are kept apart

    def cached(doc: Doc) -> T:
        memo = doc.memo
        if key in memo:
            return memo[key]  # type: ignore[no-any-return]
        result = memo[key] = fn(doc)
        return result

    return cached


Test = Callable[[Doc], bool]
Spans = Callable[[Doc], list[Span]]
_C = TypeVar("_C", Test, Spans)  # what an OR's children compile to: a test or a span finder


@dataclass(frozen=True, slots=True)
class Compiled:
    """A parsed query ready to run: `test(doc)` says whether it matches."""

    source: str
    ast: Node
    test: Test
    anchors: Anchors | None
    size: int = 0
    clauses: tuple[Anchors, ...] = ()  # see required_clauses
    # Where the words and phrases that count in its favour (not under NOT) are in a post.
    evidence: Spans | None = None


def compile_query(query: str, limits: Limits = DEFAULT_LIMITS) -> Compiled:
    ast = parse(query, limits)
    leaves = _positive_leaves(ast)
    return Compiled(
        query,
        ast,
        _test(ast),
        anchors(ast),
        sum(1 for _ in walk(ast)),
        required_clauses(ast),
        _or_spans(list(dict.fromkeys(leaves))) if leaves else None,
    )


def _positive_leaves(node: Node) -> list[Node]:
    if isinstance(node, Word | Time | Phrase):
        return [node]
    if isinstance(node, Near):
        return _positive_leaves(node.left) + _positive_leaves(node.right)
    if isinstance(node, And | Or):
        return [leaf for c in node.children for leaf in _positive_leaves(c)]
    return []


def _merge(lists: list[list[int]]) -> list[int]:
    found = [p for p in lists if p]
    if len(found) <= 1:
        return found[0] if found else []
    return sorted(set().union(*found))


def _word_positions(node: Word | Time) -> Callable[[Doc], list[int]]:
    if isinstance(node, Time):
        return lambda doc: doc.index.get(TIME_FORM, [])
    keys = node.keys
    if node.prefix:
        return lambda doc: _merge([doc.prefix_positions(k) for k in keys])
    if len(keys) == 1:
        (k,) = keys
        return lambda doc: doc.index.get(k, [])
    if len(keys) == 2:
        k1, k2 = keys

        def two(doc: Doc) -> list[int]:
            a = doc.index.get(k1)
            b = doc.index.get(k2)
            if b is None:
                return a or []
            return b if a is None else sorted(set(a) | set(b))

        return two
    return lambda doc: _merge([doc.index.get(k, []) for k in keys])


def _spans(node: Node) -> Spans:
    if isinstance(node, Word | Time):
        positions = _word_positions(node)
        return lambda doc: [(p, p) for p in positions(doc)]
    if isinstance(node, Phrase):
        parts = [_word_positions(w) for w in node.words]
        first, rest_parts = parts[0], parts[1:]
        width = len(parts) - 1

        def phrase_spans(doc: Doc) -> list[Span]:
            starts = first(doc)
            if not starts:
                return []
            rest: list[set[int] | list[int]] = []
            for get in rest_parts:
                found = get(doc)
                if not found:
                    return []
                rest.append(found if len(found) < 4 else set(found))
            return [
                (s, s + width) for s in starts if all(s + k + 1 in r for k, r in enumerate(rest))
            ]

        return phrase_spans
    if isinstance(node, Or):
        return _memoised(node, _or_spans(node.children), spans=True)
    if isinstance(node, Near):
        return _memoised(node, _near_spans(node), spans=True)
    raise TypeError(f"{type(node).__name__} has no positions")  # parser prevents this


def _near_spans(node: Near) -> Spans:
    """Every pair of a left and a right span at most `distance` words apart, not overlapping
    (left first when ordered), as one span from the first word to the last. Exact, and
    capped at MAX_SPANS per node so an adversarial post cannot make it quadratic."""
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
        out: set[Span] = set()
        for a_start, a_end in a:
            # right side after the left one: its start in [a_end + 1, a_end + 1 + n]
            lo = bisect.bisect_left(b_starts, a_end + 1)
            hi = bisect.bisect_right(b_starts, a_end + 1 + n)
            for k in range(lo, hi):
                out.add((a_start, b[k][1]))
            if not ordered:
                # right side before the left one: its end in [a_start - 1 - n, a_start - 1]
                lo = bisect.bisect_left(b_ends, a_start - 1 - n)
                hi = bisect.bisect_right(b_ends, a_start - 1)
                for k in range(lo, hi):
                    out.add((b_by_end[k][0], a_end))
            if len(out) >= MAX_SPANS:
                break
        return sorted(out)[:MAX_SPANS]

    return near


def _test(node: Node) -> Test:
    """A fast yes/no matcher: dictionary look-ups first, positions only when needed."""
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
        return lambda doc: any(doc.prefix_positions(k) for k in prefixes)
    if isinstance(node, Time):
        return lambda doc: TIME_FORM in doc.index
    if isinstance(node, Not):
        child = _test(node.child)
        return lambda doc: not child(doc)
    if isinstance(node, And):
        kids = tuple(_test(c) for c in _cheap_first(node.children))

        def all_of(doc: Doc) -> bool:
            for k in kids:
                if not k(doc):
                    return False
            return True

        return all_of
    if isinstance(node, Or):
        return _memoised(node, _or_test(node.children), spans=False)
    if isinstance(node, Phrase):
        # Neighbouring exact words must be present as pairs, and every word present: both
        # necessary and cheap to check; positions only if so.
        pair_sets = tuple(a.pairs for a in _phrase_pairs(node))
        present = tuple(_test(w) for w in node.words)
        spans = _spans(node)

        def phrase(doc: Doc) -> bool:
            doc_pairs = doc.pairs
            for keys in pair_sets:
                if keys.isdisjoint(doc_pairs):
                    return False
            for k in present:
                if not k(doc):
                    return False
            return bool(spans(doc))

        return phrase
    near_spans = _spans(node)
    need = (_test(node.left), _test(node.right))
    return lambda doc: need[0](doc) and need[1](doc) and bool(near_spans(doc))


@dataclass(frozen=True, slots=True)
class _OrParts:
    """An OR's children sorted for speed: plain words, wildcards and two-word phrases become
    one set test each; longer phrases are only tried when their rarest word or word pair is
    present; anything else (NEAR, nested logic) runs in turn."""

    exact: frozenset[str]
    prefixes: frozenset[str]
    pairs: frozenset[str]  # two-word phrases of exact words, as Doc.pairs keys
    by_word: dict[str, tuple[Node, ...]]  # phrases gated by a word's form
    by_prefix: dict[str, tuple[Node, ...]]
    by_pair: dict[str, tuple[Node, ...]]
    others: tuple[Node, ...]


def _or_parts(children: Sequence[Node]) -> _OrParts:
    exact: set[str] = set()
    prefixes: set[str] = set()
    pairs: set[str] = set()
    by: dict[str, dict[str, list[Node]]] = {"word": {}, "prefix": {}, "pair": {}}
    others: list[Node] = []
    for c in children:
        if isinstance(c, Word):
            (prefixes if c.prefix else exact).update(c.keys)
        elif isinstance(c, Time):
            exact.add(TIME_FORM)
        elif isinstance(c, Phrase) and len(c.words) == 2 and len(p := _phrase_pairs(c)) == 1:
            pairs.update(p[0].pairs)
        elif isinstance(c, Phrase):
            a = anchors(c)
            assert a is not None  # a phrase always has a word
            for kind, keys in (("word", a.exact), ("prefix", a.prefixes), ("pair", a.pairs)):
                for k in keys:
                    by[kind].setdefault(k, []).append(c)
        else:
            others.append(c)
    return _OrParts(
        frozenset(exact),
        frozenset(prefixes),
        frozenset(pairs),
        {k: tuple(v) for k, v in by["word"].items()},
        {k: tuple(v) for k, v in by["prefix"].items()},
        {k: tuple(v) for k, v in by["pair"].items()},
        tuple(_cheap_first(others)),
    )


def _gated(
    parts: _OrParts, compile_one: Callable[[Node], _C]
) -> tuple[list[tuple[str, frozenset[str], dict[str, tuple[_C, ...]]]], tuple[_C, ...]]:
    """Compile an OR's children once each (`_test` or `_spans`): those gated by a word, prefix
    or pair as (kind, keys, key -> compiled children), and the rest, cheapest first."""
    done: dict[Node, _C] = {}
    gated: list[tuple[str, frozenset[str], dict[str, tuple[_C, ...]]]] = []
    for kind, group in (("word", parts.by_word), ("prefix", parts.by_prefix),
                        ("pair", parts.by_pair)):  # fmt: skip
        if group:
            for v in group.values():
                for c in v:
                    if c not in done:
                        done[c] = compile_one(c)
            table = {k: tuple(done[c] for c in v) for k, v in group.items()}
            gated.append((kind, frozenset(table), table))
    return gated, tuple(compile_one(c) for c in parts.others)


def _or_test(children: Sequence[Node]) -> Test:
    parts = _or_parts(children)
    exact, prefixes, pairs = parts.exact, parts.prefixes, parts.pairs
    gated, others = _gated(parts, _test)

    def any_of(doc: Doc) -> bool:
        if exact and not exact.isdisjoint(doc.index):
            return True
        if pairs and not pairs.isdisjoint(doc.pairs):
            return True
        if prefixes and not prefixes.isdisjoint(doc.prefix_table()):
            return True
        for kind, keys, table in gated:
            for k in keys.intersection(_table(doc, kind)):
                for t in table[k]:
                    if t(doc):
                        return True
        for t in others:
            if t(doc):
                return True
        return False

    return any_of


def _table(doc: Doc, kind: str) -> dict[str, list[int]]:
    if kind == "word":
        return doc.index
    if kind == "pair":
        return doc.pairs
    return doc.prefix_table()


def _or_spans(children: Sequence[Node]) -> Spans:
    parts = _or_parts(children)
    exact, prefixes, pairs = parts.exact, parts.prefixes, parts.pairs
    gated, others = _gated(parts, _spans)

    def or_spans(doc: Doc) -> list[Span]:
        index = doc.index
        positions: set[int] = set()
        for k in exact.intersection(index):
            positions.update(index[k])
        if prefixes:
            table = doc.prefix_table()
            for k in prefixes.intersection(table):
                positions.update(table[k])
        out: set[Span] = {(p, p) for p in positions}
        if pairs:
            for k in pairs.intersection(doc.pairs):
                out.update((p, p + 1) for p in doc.pairs[k])
        for kind, keys, group in gated:
            for k in keys.intersection(_table(doc, kind)):
                for f in group[k]:
                    out.update(f(doc))
        for f in others:
            out.update(f(doc))
        return sorted(out)[:MAX_SPANS]

    return or_spans


def _cheap_first(children: Sequence[Node]) -> list[Node]:
    """Evaluate plain words before phrases and NEARs: same result, less work."""
    return sorted(children, key=lambda c: sum(1 for _ in walk(c)))


# --- explanation -----------------------------------------------------------------------------


def short(node: Node | str, width: int = 90) -> str:
    """A part of a query on one line, cut to `width` characters."""
    text = " ".join(str(node).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def explain(node: Node, doc: Doc, indent: int = 0) -> list[str]:
    """Lines saying, for each part of the query, whether it matched and on which words.

    Long lists of alternatives are shown by what matched in them, not word by word."""
    words = doc.words
    pad = "  " * indent
    ok = _test(node)(doc)
    mark = "yes" if ok else "no "
    lines: list[str] = []
    if is_positional(node):
        spans = _spans(node)(doc)
        where = ", ".join(repr(" ".join(words[s : e + 1])) for s, e in spans[:5])
        more = f" (+{len(spans) - 5} more)" if len(spans) > 5 else ""
        lines.append(f"{pad}[{mark}] {short(node)}" + (f"  <- {where}{more}" if where else ""))
        if isinstance(node, Near):
            for c in (node.left, node.right):
                lines += explain(c, doc, indent + 1)
        elif isinstance(node, Or) and len(node.children) <= 4:
            for c in node.children:
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


def matched_words(compiled: Compiled, doc: Doc, limit: int = 6) -> list[str]:
    """The post's words that the query's positive words and phrases matched (a hit's reason)."""
    if compiled.evidence is None:
        return []
    found: list[str] = []
    seen: set[int] = set()
    words = doc.words
    for s, e in compiled.evidence(doc):
        if s not in seen:
            seen.add(s)
            found.append(" ".join(words[s : e + 1]))
            if len(found) >= limit:
                break
    return found
