"""Obfuscation cannot hide a word from a rule: case, accents, leetspeak, spacing, repeated
letters, invisible characters and look-alike letters are all normalised — on both sides."""

from __future__ import annotations

import pytest

from monitor.rules.normalise import TIME_FORM, answered_claims, make_doc
from monitor.rules.query import compile_query


def matches(query: str, text: str) -> bool:
    return compile_query(query).test(make_doc(text))


@pytest.mark.parametrize(
    "text",
    [
        "KILL them",
        "kíll them",  # accent
        "k1ll them",  # leetspeak
        "k i l l them",  # spaced out
        "K.I.L.L them",
        "k-i-l-l them",
        "k_i_l_l them",
        "kiiiiill them",  # repeated letters
        "ki\u200bll them",  # zero-width space inside the word
        "ｋｉｌｌ them",  # full-width letters
        "𝐤𝐢𝐥𝐥 them",  # mathematical bold letters
        "kill!!! them",
    ],
)
def test_obfuscated_spellings_match_the_plain_word(text: str) -> None:
    assert matches('"kill them"', text)


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("hate", "h@te"),
        ("shit", "$hit"),
        ("hotel", "h0tel"),
        ("hotel", "hоtel"),  # Cyrillic о inside a Latin word
        ("asylum", "a s y l u m"),
        ("before", "b4"),  # textspeak
        ("tonight", "2nite"),
        ("they're", "theyre"),
        ("they're", "they’re"),  # curly apostrophe
        ("#MakeSureItAddsUp", "makesureitaddsup"),
        ("café", "CAFE"),  # accents stripped in the query as well
        ("molotow", "Mołotowa"[:-1]),  # a stroked letter is folded like an accented one
        ("mołotow", "molotow"),
        ("اليهود", "اليـــهــــود"),  # Arabic tatweel stretches a word, it changes nothing
        ("کالے", "كالے"),  # Urdu written with the Arabic keyboard's kaf
        ("پاكستاني", "پاکستانی"),  # and the other way round, with the Urdu kaf and yeh
        ("حرامه", "حرامة"),  # teh marbuta typed as heh
    ],
)
def test_query_and_post_are_normalised_alike(query: str, text: str) -> None:
    assert matches(query, text)


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("kill", "kiln"),  # a common word one letter away is spelt as meant
        ("kill", "skill"),
        ("hotel", "hotels"),  # plural needs hotel*
        ("io", "10"),  # a plain number is not leetspeak
        ("iopm", "10pm"),  # nor a number with a unit
        ("hotel", "хотел"),  # a word wholly in Cyrillic is left alone
    ],
)
def test_normalisation_does_not_invent_matches(query: str, text: str) -> None:
    assert not matches(query, text)


def test_emphasis_matches_both_readings_but_plain_words_do_not_blur() -> None:
    assert matches("good", "gooood")
    assert matches("god", "gooood")  # ambiguous emphasis may read either way
    assert not matches("god", "good")


@pytest.mark.parametrize("text", ["meet at 7pm", "meet at 7 pm", "meet at 19:30", "meet at 7.30pm"])
def test_clock_times_are_recognised(text: str) -> None:
    assert TIME_FORM in make_doc(text).index
    assert matches("meet NEAR/2 <time>", text)


@pytest.mark.parametrize("text", ["back in 2024", "£50 fine", "room 101", "plan b a plan"])
def test_other_numbers_are_not_times(text: str) -> None:
    assert TIME_FORM not in make_doc(text).index


def test_spelt_out_letters_join_only_in_runs_of_three() -> None:
    doc = make_doc("plan b a plan, I am a b c")
    assert "b" in doc.index and "a" in doc.index  # two single letters stay words
    assert "abc" in doc.index


def test_explanations_keep_the_words_as_written() -> None:
    doc = make_doc("Apparently the H0TEL is full")
    assert doc.words == ("apparently", "the", "h0tel", "is", "full")


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ('(burn NEAR/3 mosque*) AND "down"', "We should b*rn the m*sque down"),
        ("hotel*", "t*rch the h*tels tonight"),  # a wildcard stem with a plural ending
        ("torch*", "t*rching it is the only way"),
        ("muslims", "m*sl*ms out"),
        ("shit", "sh*t"),  # swearing: the commonest mask
        ("nigger", "n****r"),  # some slurs are masked down to their first and last letters
        ('"burn it"', "**burn** it"),  # markdown emphasis is not a mask
    ],
)
def test_masked_letters_read_as_the_words_rules_use(query: str, text: str) -> None:
    assert matches(query, text)


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("shut", "sh*t"),  # a mask that fits swearing is read as it, not as `shut`
        ("hall", "h*ll"),
        ("muslims", "m*****s"),  # hides more than it shows: too many words fit
        ("shop*", "sh**ting"),  # "ting" is no ending of `shop*`: another word
        ("mosque", "*osque"),  # a mask must start with a letter shown
        ("15", "5*3 is 15"),  # arithmetic is left as numbers...
    ],
)
def test_masks_that_do_not_read_as_the_word(query: str, text: str) -> None:
    if query == "15":
        assert matches(query, text) and make_doc(text).words[:2] == ("5", "3")
        return
    assert not matches(query, text)


def test_a_masked_word_keeps_its_own_spelling_for_explanations() -> None:
    compile_query("burn")
    doc = make_doc("b*rn it")
    assert doc.words == ("b*rn", "it")
    assert doc.positions[0] == ("b*rn", "burn")


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ('"burn it down"', "#BurnItDown tonight"),  # a CamelCase hashtag is a phrase...
        ("#BurnItDown", "#BurnItDown tonight"),  # ...and still the hashtag
        ("burnitdown", "#BurnItDown tonight"),
        ('"make sure it adds up"', "Here are the facts #MakeSureItAddsUp"),
        ('"send them home" AND hotel', "#SendThemHome from the hotel"),
    ],
)
def test_camel_case_hashtags_read_as_their_words(query: str, text: str) -> None:
    assert matches(query, text)


@pytest.mark.parametrize(
    "text", ["#burnitdown", "#BURNITDOWN", "burnItDown"]
)  # no capitals to split at, or not a hashtag: one word, as written
def test_other_hashtags_stay_one_word(text: str) -> None:
    assert not matches('"burn it down"', text)


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("kill", "kil them all"),  # a doubled letter less
        ("mosque", "burn the mosqe"),  # a letter dropped inside the word
        ("muslims", "muslms out"),
        ("vermin", "vermn the lot"),
        ("mosque", "the mosuqe"),  # two neighbours swapped
        ("refugee*", "refguees"),  # a wildcard's stem, slipped
    ],
)
def test_one_letter_slips_read_as_the_rule_word(query: str, text: str) -> None:
    assert matches(query, text)


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("homes", "hoes"),  # short words: one letter apart is another word or slang
        ("spalic", "spali"),  # an ending more or less is another form (Polish: they slept)
        ("muslim", "muslims"),  # ...in English too
        ("mosque", "mosqeu"),  # the last letter is kept
        ("kill", "skill"),  # the first letter is kept
        ("(bottle OR battle)", "bttle"),  # two words fit: neither is claimed
    ],
)
def test_slips_that_are_not_read_as_the_rule_word(query: str, text: str) -> None:
    assert not matches(query, text)


def test_vowel_signs_stay_inside_their_words() -> None:
    # Gurmukhi, Devanagari and Bengali vowel signs are combining marks, which Python's `re`
    # does not count as word characters: they must not split words or vanish.
    assert make_doc("ਮਸਜਿਦ ਨੂੰ ਸਾੜ ਦਿਓ").words == ("ਮਸਜਿਦ", "ਨੂੰ", "ਸਾੜ", "ਦਿਓ")
    assert matches("ਸਾੜ NEAR/3 ਮਸਜਿਦ*", "ਮਸਜਿਦ ਨੂੰ ਸਾੜ ਦਿਓ")
    assert not matches("जल", "जला दो")  # water is not "burn it"
    assert make_doc("মসজিদ").words == ("মসজিদ",)


def test_object_emoji_read_as_their_words() -> None:
    assert matches('"set fire to the mosque"', "set 🔥 to the 🕌")
    assert matches("mosque", "🕌")  # a query may use the emoji too
    assert matches("🕌", "the mosque")
    assert not matches("burn", "this tune is 🔥")  # fire is praise as often as a threat


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ('"muslims are terrorists"', "Fictional: all ☪️ are terrorists"),
        ("jews", "Fictional: ✡ out"),
        ('"gay people"', "Fictional: 🏳️‍🌈 people"),  # flag, variation selector, joiner, rainbow
        ('"gay people"', "Fictional: 🏳🌈 people"),  # typed without the joiner
        ('"the trans lot"', "Fictional: get the 🏳️‍⚧️ lot out"),
        ("rats", "Fictional: refugees are 🐀"),
    ],
)
def test_group_symbols_read_as_the_group(query: str, text: str) -> None:
    assert matches(query, text)


def test_a_white_flag_or_a_rainbow_alone_is_no_group() -> None:
    assert make_doc("Fictional: 🏳️ we give up, 🌈 after the rain").words == (
        "fictional", "we", "give", "up", "after", "the", "rain",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "claim"),
    [
        (
            "Refugees are vermin?? The woman who taught my kid to swim fled Syria. Get a grip.",
            "Refugees are vermin??",
        ),
        (
            "Immigrants are parasites, are they? Who do you think was on the night shift?",
            "Immigrants are parasites, are they?",
        ),
        (
            "@neighbour Muslims are terrorists?! My GP is a Muslim and she saved my dad.",
            "@neighbour Muslims are terrorists?!",
        ),
        ("Imigranci to pasożyty? Mój sąsiad jest lekarzem, daj spokój.", "Imigranci to pasożyty?"),
    ],
)
def test_a_claim_asked_back_and_answered_is_found(text: str, claim: str) -> None:
    rest, claims = answered_claims(text)
    assert claims == (claim,)
    assert claim not in rest and "." in rest


@pytest.mark.parametrize(
    "text",
    [
        "Why are refugees such vermin? Every single one of them.",  # opens like a question
        "Isn't it obvious Muslims are terrorists? Wake up people.",
        "Aren’t immigrants just parasites? Sick of them.",
        "Refugees are vermin?",  # nothing after it: the question may be the hate
        "Refugees are vermin? Yes.",  # too short an answer to tell
        "Refugees are vermin. Get a grip if you think otherwise.",  # no question at all
    ],
)
def test_hate_put_as_a_question_or_said_plainly_is_no_answered_claim(text: str) -> None:
    assert answered_claims(text) == (text, ())
