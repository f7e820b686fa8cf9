"""The query language: parse errors say where and why; precedence, NEAR, phrases and wildcards
mean what the rules README says; the fast matchers agree with a brute-force reference."""

from __future__ import annotations

import random

import pytest

from monitor.rules.normalise import make_doc
from monitor.rules.query import (
    And,
    Limits,
    Near,
    Not,
    Or,
    QueryError,
    Word,
    _spans,
    compile_query,
    is_positional,
    parse,
    walk,
)
from tests.rules import reference


def matches(query: str, text: str) -> bool:
    return compile_query(query).test(make_doc(text))


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message", "pos"),
    [
        ("", "empty", 0),
        ('hotel OR "asylum seekers', "never closed", 9),
        ("(hotel OR asylum", "never closed", 0),
        ("hotel OR asylum)", "no matching '('", 15),
        ("hotel asylum", "expected AND, OR, NOT or NEAR/n", 6),
        ("hotel and asylum", "operators are written in capitals: write AND", 6),
        ("hotel or asylum", "write OR", 6),
        ("hotel AND", "ends where a word", 9),
        ("AND hotel", "AND needs a word", 0),
        ("hotel OR OR asylum", "OR needs a word", 9),
        ("ho*tel", "may only end a word", 2),
        ("ho*", "at least 3 letters", 2),
        ("hotel NEAR asylum", "NEAR needs a distance", 6),
        ("hotel NEAR/x asylum", "whole number", 6),
        ("hotel NEAR/99 asylum", "too far", 6),
        ("(hotel AND asylum) NEAR/3 tonight", "NEAR needs words", 1),
        ("hotel NEAR/3 NOT asylum", "NOT needs a word", 13),
        ("@somebody", "never target an account", 0),
        ('"share @somebody"', "never target an account", 0),
        ("hotel AND ()", "expected a word", 11),
        ("hotel AND !!!", "no letters or digits", 10),
    ],
)
def test_errors_say_where_and_why(query: str, message: str, pos: int) -> None:
    with pytest.raises(QueryError) as info:
        parse(query)
    assert message in info.value.message
    assert info.value.pos == pos
    assert f"character {pos + 1}" in str(info.value)


def test_limits_keep_queries_small() -> None:
    limits = Limits()
    deep = "(" * (limits.max_depth + 1) + "hotel" + ")" * (limits.max_depth + 1)
    with pytest.raises(QueryError, match="nested more than"):
        parse(deep)
    nears = " NEAR/2 ".join(f"w{i}x" for i in range(limits.max_near + 2))
    with pytest.raises(QueryError, match="NEAR operators"):
        parse(nears)
    stars = " OR ".join(f"word{i}*" for i in range(limits.max_wildcards + 1))
    with pytest.raises(QueryError, match="wildcards"):
        parse(stars)
    with pytest.raises(QueryError, match="longer than"):
        parse("hotel OR " * 1000 + "hotel")
    with pytest.raises(QueryError, match="at most 12 words"):
        parse('"' + " ".join(["word"] * 13) + '"')


# --- precedence ----------------------------------------------------------------------------------


def test_and_binds_tighter_than_or() -> None:
    ast = parse("a1 OR b1 AND c1")
    assert isinstance(ast, Or) and isinstance(ast.children[1], And)
    assert matches("a1 OR b1 AND c1", "a1")
    assert not matches("a1 OR b1 AND c1", "b1")
    assert matches("(a1 OR b1) AND c1", "b1 c1")


def test_near_binds_tighter_than_not_and_not_tighter_than_and() -> None:
    ast = parse("NOT a1 NEAR/2 b1 AND c1")
    assert isinstance(ast, And)
    assert isinstance(ast.children[0], Not) and isinstance(ast.children[0].child, Near)
    assert matches("NOT a1 NEAR/2 b1 AND c1", "c1 a1 one two three b1")
    assert not matches("NOT a1 NEAR/2 b1 AND c1", "c1 a1 b1")


def test_binary_not_means_and_not() -> None:
    assert parse("a1 NOT b1") == parse("a1 AND NOT b1")
    assert matches("apparently NOT debunked", "apparently so")
    assert not matches("apparently NOT debunked", "apparently it was debunked")


def test_lower_case_operator_words_are_words_inside_phrases() -> None:
    assert matches('"not true"', "that is not true")
    assert matches('"black and white"', "Black and white dog")


# --- NEAR, phrases, wildcards ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hotel asylum", True),  # next to each other
        ("asylum hotel", True),  # either order
        ("hotel is full of asylum", True),  # three words between
        ("hotel is now full of asylum", False),  # four words between
        ("hotel", False),  # one word cannot be near itself
    ],
)
def test_near_counts_the_words_between(text: str, expected: bool) -> None:
    assert matches("hotel NEAR/3 asylum", text) is expected


def test_near_f_asks_for_order() -> None:
    assert matches("share NEAR/3f deleted", "share before it's deleted")
    assert not matches("share NEAR/3f deleted", "deleted, so share it")


def test_near_with_phrases_and_or_and_chains() -> None:
    q = '("share before" OR "share this") NEAR/3 (delet* OR "taken down")'
    assert matches(q, "share this now, it’ll be taken down")
    assert not matches(q, "share before the long weekend, not deleting anything")
    chain = "meet NEAR/2 hotel NEAR/2 <time>"
    assert matches(chain, "meet outside the hotel at 7pm")
    assert not matches(chain, "meet outside the old hotel on Marsh Lane tomorrow at 7pm")


def test_near_spans_do_not_overlap() -> None:
    assert not matches("hate* NEAR/3 hater", "hater")
    assert matches("hate* NEAR/3 hater", "hate the hater")


def test_phrases_need_the_words_in_order_and_together() -> None:
    assert matches('"share before"', "SHARE before it goes")
    assert not matches('"share before"', "before you share")
    assert not matches('"share before"', "share it before")
    assert matches("“share before”", "share before")  # curly quotes work too


def test_wildcards_end_words_and_work_in_phrases() -> None:
    assert matches("immigra*", "Immigrants")
    assert matches("immigra*", "immigration")
    assert not matches("immigra*", "emigrants")
    assert matches('"asylum seek*"', "asylum seekers")
    assert not matches('"asylum seek*"', "seekers asylum")


def test_a_word_that_splits_is_a_phrase() -> None:
    ast = parse("co-op")
    assert not isinstance(ast, Word)
    assert matches("co-op", "the old Co-op building")
    assert not matches("co-op", "co the op")


# --- the fast matchers against the reference ---------------------------------------------------

VOCAB = ["hotel", "hotels", "asylum", "the", "kill", "kiiiill", "k1ll", "meet", "7pm",
         "tonight", "apparently", "share", "before", "b4", "deleted"]  # fmt: skip
LEAVES = ["hotel", "hotel*", "asylum", "the", "kill", "meet", "<time>", "tonight", "apparently",
          '"share before"', '"the hotel*"', "delet*", "b4", '"meet the"']  # fmt: skip


def _positional(rng: random.Random, depth: int) -> str:
    if depth == 0 or rng.random() < 0.5:
        return rng.choice(LEAVES)
    a, b = _positional(rng, depth - 1), _positional(rng, depth - 1)
    if rng.random() < 0.5:
        return f"({a} OR {b})"
    return f"({a} NEAR/{rng.randint(0, 3)}{rng.choice(['', 'f'])} {b})"


def _query(rng: random.Random, depth: int) -> str:
    if depth == 0 or rng.random() < 0.3:
        return rng.choice(LEAVES)
    op = rng.choice(["AND", "OR", "NOT", "NEAR"])
    if op == "NOT":
        return "NOT " + _query(rng, depth - 1)
    if op == "NEAR":
        return _positional(rng, depth)
    return f"({_query(rng, depth - 1)} {op} {_query(rng, depth - 1)})"


def test_compiled_matchers_agree_with_a_brute_force_reference() -> None:
    """Random queries on random posts: the fast test, every part's positions and the rule's
    required words (used to skip rules) all agree with the naive reading of the language."""
    rng = random.Random(20260302)
    checked = 0
    for _ in range(400):
        try:
            compiled = compile_query(_query(rng, 4))
        except QueryError:
            continue  # over a limit: fine, the parser said so
        for _ in range(5):
            doc = make_doc(" ".join(rng.choice(VOCAB) for _ in range(rng.randint(0, 12))))
            expected = reference.matches(compiled.ast, doc)
            assert compiled.test(doc) is expected, (compiled.source, doc.words)
            for node in walk(compiled.ast):
                if is_positional(node):
                    assert set(_spans(node)(doc)) == reference.spans(node, doc)
            if expected:
                keys, pairs = set(doc.index), set(doc.pairs)
                for clause in compiled.clauses:
                    assert (
                        clause.exact & keys
                        or clause.pairs & pairs
                        or any(f.startswith(p) for f in keys for p in clause.prefixes)
                    ), (compiled.source, doc.words, clause)
            checked += 1
    assert checked > 1000
