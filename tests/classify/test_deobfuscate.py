"""Deobfuscation levels and the level-2 respelling of disguised lexicon words
(monitor.classify.deobfuscate, monitor.classify.respell); pure, no model needed."""

from __future__ import annotations

import pytest

from monitor.classify.deobfuscate import (
    FORMS,
    OFF,
    RESPELL,
    cache_texts,
    deobfuscate,
    deobfuscation_level,
    encoder_text,
    manifest_value,
)
from monitor.classify.disk_cache import prepared_forms
from monitor.classify.respell import LEXICON_FILE, MIN_LEXICON_LETTERS, respell, vocabulary


@pytest.mark.parametrize(
    ("disguised", "plain"),
    [
        # letters masked with *
        ("they are m*slims", "they are muslims"),
        ("k*ll them", "kill them"),
        ("f**k off", "fuck off"),
        ("b*rn it down", "burn it down"),
        ("n****rs out", "niggers out"),
        # one letter dropped, swapped or extra (the first letter kept)
        ("muslms out", "muslims out"),
        ("shut the mosuqe", "shut the mosque"),
        ("deport the imigrants", "deport the immigrants"),
        ("kil them all", "kill them all"),
        ("they are vermmin", "they are vermin"),
        ("they are vremin", "they are vermin"),
        ("I hatte them", "I hate them"),
        # run together
        ("ihatemuslims", "i hate muslims"),
        ("killthemall now", "kill them all now"),
        # case kept roughly, punctuation kept
        ("KIL THEM", "KILL THEM"),
        ("Vremin!!", "Vermin!!"),
        ("(imigrants),", "(immigrants),"),
    ],
)
def test_level_two_writes_disguised_lexicon_words_plainly(disguised: str, plain: str) -> None:
    assert deobfuscate(disguised, RESPELL) == plain


def test_level_two_first_undoes_level_one() -> None:
    assert deobfuscate("k1l them, they are v e r m m i n", RESPELL) == "kill them, they are vermin"


@pytest.mark.parametrize(
    "ordinary",
    [
        "Lovely afternoon at the Wibsey fun day, thanks to everyone who came.",
        "Council to consult residents on the park plans for Eccleshill next week.",
        "Haters gonna hate, said Priya Chaudhry and Wojciech Nowak at the match.",
        "That was overkill, a roadkill joke and a sunburn story, honestly.",
        "The ban deports nobody; it kills the bill and burns no bridges.",
        "Bus 72 diverted at 7.30pm, back on the 2nd of May. £50 fine! 3 for 2 on 4G",
        "#ihatemuslims #KillTheBill #StopTheHate trending, reported it",
        "@user @fern_resident thanks, see http or bbc.co.uk/imigrants and kil.example.org",
        "*really* good news from the mosque and the gurdwara",
        "Muzułmanie w Bradford, ڈیوزبری میں آج میٹنگ ہے, Ședința cu părinții",
        "Spotkanie w meczecie jutro o 18:00, wszyscy mile widziani",
        "Kat, Han and Jes said tit for tat, coo, it's a bit much",
        "Don't, can't, won't, it's, they're, o'clock",
        "covid19 figures, 2024 results, 10k run, x2, 3rd time",
        "Manningham ki nayi masjid hafte ko khuli hai, agle hafte mela",  # romanised Urdu
    ],
)
def test_level_two_leaves_ordinary_posts_alone(ordinary: str) -> None:
    assert deobfuscate(ordinary, RESPELL) == deobfuscate(ordinary) == ordinary


@pytest.mark.parametrize(
    "token",
    [
        "fucke",  # fuck (extra e), fucked or fucker (dropped letter): ambiguous
        "p***y",  # two lexicon words fit the mask
        "bitchy",  # a word's own ending ("-y", "-s") is another form, not a disguise
        "deports",
        "maggot",
        "sik",  # a 4-letter word only by a doubled letter: short tokens are often other words
        "cnt",
        "sucm",
        "overkill",  # a compound of two content words is not split
        "IHateMuslims",  # CamelCase is left whole
        "muslimsinwibsey",  # "wibsey" is no vocabulary word: no split
    ],
)
def test_ambiguous_short_and_compound_tokens_are_left_alone(token: str) -> None:
    assert respell(token) == token


def test_level_one_is_exactly_todays_behaviour() -> None:
    disguised = "m*slims are vremin, kil them, ihatemuslims v3rm1n"
    assert deobfuscate(disguised) == deobfuscate(disguised, FORMS)
    assert deobfuscate(disguised, FORMS) == "m*slims are vremin, kil them, ihatemuslims vermin"
    assert deobfuscate(disguised, OFF) == disguised


def test_encoder_text_and_cache_texts_follow_the_level() -> None:
    post = "@someone  they are vrem1n"
    assert encoder_text(post, False) == "@user they are vrem1n"
    assert encoder_text(post, True) == encoder_text(post, FORMS) == "@user they are vremin"
    assert encoder_text(post, RESPELL) == "@user they are vermin"
    ordinary = "See you at the library at 7pm"
    assert cache_texts([ordinary, post], RESPELL) == [ordinary, "@user they are vermin"]


@pytest.mark.parametrize(
    ("manifest", "level"),
    [({}, 0), ({"deobfuscate": False}, 0), ({"deobfuscate": True}, 1), ({"deobfuscate": 2}, 2)],
)
def test_manifest_levels(manifest: dict[str, object], level: int) -> None:
    assert deobfuscation_level(manifest) == level
    assert bool(deobfuscation_level(manifest)) == bool(manifest.get("deobfuscate"))


@pytest.mark.parametrize("value", [3, -1, "2", 1.5, None])
def test_unknown_manifest_levels_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match="deobfuscate"):
        deobfuscation_level({"deobfuscate": value})


def test_manifest_writes_level_one_as_true() -> None:
    assert manifest_value(FORMS) is True
    assert manifest_value(OFF) is False
    assert manifest_value(RESPELL) == 2


def test_encoding_cache_forgets_the_level_two_reading_too() -> None:
    post = "Fictional: the vremin on Idle Road"
    assert encoder_text(post, RESPELL) in prepared_forms(post)
    assert encoder_text(post, FORMS) in prepared_forms(post)


def test_lexicon_file() -> None:
    lines = LEXICON_FILE.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("#")  # the header says what the file is for
    words = [w for w in lines if w and not w.startswith(("#", "!"))]
    assert words == [w.lower().strip() for w in words]
    assert len(words) == len(set(words))
    assert all(len(w) >= MIN_LEXICON_LETTERS and w.isalpha() for w in words)
    v = vocabulary()
    assert v.lexicon == frozenset(words)
    assert {"hater", "haters"} <= v.keep <= v.known
