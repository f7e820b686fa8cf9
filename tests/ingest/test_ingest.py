"""Ingest: what an analyst relies on — clean text, the right places, a language, and authors
who appear only as pseudonyms that stop linking when their period ends."""

from __future__ import annotations

import unicodedata
from dataclasses import fields
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from monitor.classify.languages import LANGUAGE_NAMES
from monitor.config import Settings
from monitor.ingest.core import (
    MACROLANGUAGES,
    IngestError,
    Ingestor,
    author_ref,
    bound_text,
    detect_language,
    macrolanguage,
    normalise_text,
    post_ref,
)
from monitor.ingest.places import PlaceMatcher
from monitor.ingest.urdu_punjabi import MARKERS
from monitor.privacy.postids import PostIds
from monitor.store.keys import period_start
from monitor.types import RawPost

IDS = PostIds(b"i" * 32)  # fictional post id key
ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
KEY = bytes(range(32))


@pytest.fixture(scope="module")
def places() -> PlaceMatcher:
    return PlaceMatcher.from_settings(Settings(), ROOT)


@pytest.fixture(scope="module")
def ingestor(places: PlaceMatcher) -> Ingestor:
    return Ingestor(places, max_text_chars=280)


def raw(text: str = "Fictional post", **kw: object) -> RawPost:
    values: dict[str, object] = dict(
        platform="mastodon",
        native_id="https://example.social/users/fictional/statuses/1",
        text=text,
        created_at=NOW - timedelta(minutes=5),
        author_id="https://example.social/users/fictional",
    )
    values.update(kw)
    return RawPost(**values)  # type: ignore[arg-type]


# --- text ------------------------------------------------------------------------------------


def test_html_is_reduced_to_the_text_a_reader_sees() -> None:
    html = (
        "<p>Road closed near <a href='https://example.org/x'>Lister Park</a> &amp; "
        "Cartwright&nbsp;Hall</p><script>document.write('hidden words')</script>"
        "<style>p { color: red }</style><!-- a comment --><p>Stay&#32;safe</p>"
    )
    assert normalise_text(html, is_html=True) == (
        "Road closed near Lister Park & Cartwright Hall Stay safe"
    )


def test_html_blocks_and_line_breaks_separate_words() -> None:
    assert normalise_text("<p>Bradford</p><p>Moor</p>one<br>two", True) == "Bradford Moor one two"


def test_text_that_is_not_html_keeps_its_angle_brackets_and_entities() -> None:
    assert normalise_text("x < y &amp; <b>", is_html=False) == "x < y &amp; <b>"


def test_unclosed_script_hides_everything_after_it() -> None:
    assert normalise_text("visible <script>var a = '</p> not text'", True) == "visible"


def test_text_is_nfc() -> None:
    decomposed = "Cafe\u0301 in Bronte\u0308 country"
    out = normalise_text(decomposed, is_html=False)
    assert out == "Café in Brontë country"
    assert unicodedata.is_normalized("NFC", out)


def test_controls_invisibles_and_lone_surrogates_are_removed_and_space_collapsed() -> None:
    text = "\ufeffri\u200bot\x00 \t\n near\u00a0\u00a0Girlington\ud83d \u202eevil\u202c\x1b[31m"
    assert normalise_text(text, is_html=False) == "riot near Girlington evil[31m"


def test_emoji_sequences_keep_their_joiners() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert normalise_text(f"  {family}  ", is_html=False) == family


def test_long_text_is_cut_on_a_word_boundary_and_marked() -> None:
    text = "word " * 100
    cut, truncated = bound_text(text.strip(), 42)
    assert truncated
    assert len(cut) <= 42
    assert cut.endswith("word") and " wo" not in cut[-4:]
    assert cut == " ".join(["word"] * 8)


def test_text_within_the_limit_is_untouched() -> None:
    assert bound_text("short enough", 12) == ("short enough", False)


def test_a_single_long_word_is_cut_hard_without_splitting_a_character() -> None:
    assert bound_text("x" * 50, 10) == ("x" * 10, True)
    # "e" + combining acute: the cut moves back rather than strand the accent.
    text = "abcde\u0301fgh"
    cut, truncated = bound_text(text, 5)
    assert truncated and cut == "abcd"


def test_ingest_truncates_to_the_setting(ingestor: Ingestor) -> None:
    post = ingestor.ingest(raw("Manningham " + "blah " * 200), KEY, NOW, ids=IDS)
    assert post.truncated
    assert len(post.text) <= 280
    assert post.places[0].name == "Manningham"


# --- language --------------------------------------------------------------------------------


def test_language_is_detected_for_ordinary_sentences() -> None:
    assert detect_language("Anyone know why the road is closed near the park this morning?") == (
        "en"
    )
    assert detect_language("Dzisiaj w centrum była policja, czy ktoś wie co się stało?") == "pl"
    assert detect_language("کیا کسی کو معلوم ہے کہ آج شہر میں کیا ہوا؟") == "ur"


def test_romanised_urdu_and_punjabi_are_named_not_left_to_the_english_model() -> None:
    # py3langid alone gives these no language (unsure: Hausa, Sotho...), and a post with no
    # language is scored by the English-only classifier; named, they are counted unscored.
    urdu = "Kal raat Manningham mein police aayi thi, kisi ko pata hai kya hua?"
    assert detect_language(urdu) == "ur"
    assert detect_language("Yaar ye bus phir late hai, hum kab tak intezar karein?") == "ur"
    assert detect_language("Kal gurdwara vich langar si, saare lok aaye te bahut maza aaya.") == (
        "pa"
    )
    # Pothwari, the Punjabi of many Bradford families: its future in -saan and its own
    # copulas and pronouns ("ay", "ni", "assaan"), spelt as people type them.
    assert detect_language("Kal Keighley vich mela hosi, assaan saray jaasaan, tusaan vi aao") == (
        "pa"
    )
    assert detect_language("Bus phir late ay, assaan kithay tak wait karsaan?") == "pa"
    # A romanised post full of English words and names still reads as Urdu (a quarter of
    # its words are markers).
    assert detect_language("Jummah ke baad Toller Lane pe parking ki baat hogi, sab aana") == "ur"
    # Punjabi in Shahmukhi is written in Urdu's letters; its grammar words tell them apart.
    assert detect_language("کل رات لجٹ گرین وچ پولیس آئی سی، کسے نوں پتا اے کیہ ہویا؟") == "pa"
    assert detect_language("کل رات لجٹ گرین میں پولیس آئی تھی، کسی کو پتا ہے کیا ہوا؟") == "ur"
    # English that borrows a few words stays English, and so does Indonesian's "ke" and "di".
    borrowed = "Eid mubarak to everyone in Bradford, sab ko pyaar from our family!"
    assert detect_language(borrowed) == "en"
    assert detect_language("Saya pergi ke pasar di kota dengan ibu saya kemarin pagi") == "id"


def test_no_common_english_word_counts_as_romanised_urdu_or_punjabi() -> None:
    # An English post must not drift into "not scored" because it shares a word with the
    # markers: words that are English too (main, bus, par, hum, do, jab, hay, gall) stay out.
    english = """the to and a of in is it you that he was for on are with as i his they be at
    one have this from or had by hot word but what some we can out other were all there when
    up use your how said an each she which do their time if will way about many then them
    write would like so these her long make thing see him two has look more day could go come
    did number sound no most people my over know water than call first who may down side been
    now find main bus par hum us me ho jab hay gall bin mate lad love tea road shop kids innit
    bro proper tonight weekend council police park school match game sale bank na la lo
    hun gal bare aj band log hi jo sa le aa ya ab mat cartoon season reason""".split()
    assert not set(english) & MARKERS


def test_varieties_are_counted_as_their_language() -> None:
    # py3langid names Moroccan and Egyptian Arabic apart; the service's counts, its rule
    # filters and its "not scored" notes know Arabic.
    assert macrolanguage("ary") == "ar" and macrolanguage("arz") == "ar"
    assert macrolanguage("pl") == "pl"
    assert detect_language("Fictional: a post its client tagged as Egyptian Arabic", "arz") == "ar"
    assert all(v in LANGUAGE_NAMES for v in MACROLANGUAGES.values())


def test_english_slang_py3langid_calls_pidgin_is_scored_as_english() -> None:
    # Untagged English in dialect and slang would otherwise keep no classifier scores.
    assert macrolanguage("pcm") == "en"
    for text in (
        "Fictional: finna catch dem boys at da park wit my bredren",
        "Fictional: dat bitch freak my shit fr",
    ):
        assert detect_language(text) in ("en", None), text


def test_short_or_unsure_texts_get_no_language() -> None:
    assert detect_language("ok") is None
    assert detect_language("lol 😂😂") is None
    assert detect_language("https://example.org/a/very/long/link #Bradford @someone") is None


def test_the_platforms_language_tag_is_trusted() -> None:
    assert detect_language("ok", declared="en-GB") == "en"
    assert detect_language("Bonjour tout le monde", declared="ur") == "ur"
    assert detect_language("Anyone know why the road is closed this morning?", "en") == "en"
    # ...except English on romanised Urdu or Punjabi: clients tag posts with the app's
    # language, and scoring them as English would hide them from the not-scored counts.
    assert detect_language("Yaar ye bus phir late hai, hum kab tak intezar karein?", "en") == "ur"
    assert detect_language("Ajj gurdwara vich langar si, saare lok aaye.", "en-GB") == "pa"
    # ...and English on a post in another alphabet, or with Polish or Romanian accents that
    # py3langid is sure of: scored as English, a threat in them would read as checked.
    urdu = "کل رات مسجد کے باہر پولیس آئی تھی، کسی کو پتا ہے کیا ہوا؟"
    assert detect_language(urdu, "en") == "ur"
    assert detect_language("هل يعرف أحد لماذا أغلقت الشرطة الشارع قرب المسجد اليوم؟", "en") == "ar"
    assert detect_language("ਅੱਜ ਗੁਰਦੁਆਰੇ ਵਿੱਚ ਲੰਗਰ ਸੀ, ਸਾਰੇ ਲੋਕ ਆਏ।", "en") == "pa"
    polish = "Czy ktoś wie, dlaczego policja zamknęła dziś ulicę przy szkole?"
    assert detect_language(polish, "en") == "pl"
    # Typed without its accents, Polish or Romanian has almost none of English's commonest
    # words, and py3langid is then sure of it; English headlines and chants keep the tag.
    polish = "Czy ktos wie dlaczego policja zamknela dzis ulice przy szkole w Keighley?"
    assert detect_language(polish, "en") == "pl"
    romanian = "Astazi nu merge autobuzul spre Bradford, totul e blocat de zapada"
    assert detect_language(romanian, "en") == "ro"
    headline = "Road closure Leeds Road Bradford tonight, roadworks diversion via Otley Road"
    assert detect_language(headline, "en") == "en"
    assert detect_language("Great match today!!! Bradford City 3 Huddersfield Town 1", "en") == "en"
    # A borrowed name or word does not overrule the tag (fictional).
    assert detect_language("Zoë and Chloé from the café on Fern Street won the quiz!", "en") == "en"
    assert detect_language("Loved the jalapeño nachos at the Millbeck food fair 🌶️", "en") == "en"
    # Unusable tags fall back to detection.
    assert detect_language("Anyone know why the road is closed this morning?", "und") == "en"
    assert detect_language("Anyone know why the road is closed this morning?", "??") == "en"


# --- pseudonyms ------------------------------------------------------------------------------


def test_same_author_same_key_same_ref_and_refs_do_not_reveal_the_id() -> None:
    a = author_ref(KEY, "bluesky", "did:plc:fictional1")
    assert a == author_ref(KEY, "bluesky", "did:plc:fictional1")
    assert len(a) == 32 and int(a, 16) >= 0
    assert "fictional" not in a
    assert a != author_ref(KEY, "bluesky", "did:plc:fictional2")
    assert a != author_ref(KEY, "mastodon", "did:plc:fictional1")


def test_platform_and_id_cannot_be_shuffled_into_a_collision() -> None:
    assert author_ref(KEY, "ab", "c") != author_ref(KEY, "a", "bc")


def test_a_different_key_gives_an_unlinkable_ref() -> None:
    other = bytes(reversed(KEY))
    assert author_ref(KEY, "bluesky", "did:plc:x") != author_ref(other, "bluesky", "did:plc:x")


def test_periods_are_aligned_so_every_instance_agrees() -> None:
    start = period_start(NOW, 30)
    assert start <= NOW.date() < start + timedelta(days=30)
    # Every moment of the period maps to the same start, and the next period starts after it.
    for offset in range(30):
        when = datetime.combine(start, datetime.min.time(), UTC) + timedelta(days=offset, hours=23)
        assert period_start(when, 30) == start
    after = datetime.combine(start + timedelta(days=30), datetime.min.time(), UTC)
    assert period_start(after, 30) == start + timedelta(days=30)
    # Weekly periods start on Mondays.
    assert period_start(NOW, 7).weekday() == 0


def test_periods_are_counted_in_utc() -> None:
    # 00:30 on the 1st in UTC+02:00 is still the previous day in UTC.
    local = datetime(2026, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=2)))
    assert period_start(local, 1) == date(2025, 12, 31)


def test_period_needs_a_positive_rotation_and_an_aware_time() -> None:
    with pytest.raises(ValueError):
        period_start(NOW, 0)
    with pytest.raises(ValueError):
        period_start(datetime(2026, 1, 1), 30)


def test_posts_without_an_author_each_count_as_their_own(ingestor: Ingestor) -> None:
    a = ingestor.ingest(raw(author_id=None, native_id="n1"), KEY, NOW, ids=IDS)
    b = ingestor.ingest(raw(author_id=None, native_id="n2"), KEY, NOW, ids=IDS)
    assert a.author_ref != b.author_ref
    assert a.author_ref == post_ref(KEY, "mastodon:n1")
    assert len(a.author_ref) == 32


# --- the whole ingest ------------------------------------------------------------------------


def test_ingest_builds_a_clean_placed_pseudonymous_post(ingestor: Ingestor) -> None:
    r = raw(
        "<p>Crowd gathering at <b>Girlington</b> &amp; near Lister Park</p>",
        is_html=True,
        created_at=datetime(2026, 11, 3, 11, 0, tzinfo=timezone(timedelta(hours=1))),
        like_count=-3,
        repost_count=2,
        language="en",
        source="mastodon:example.social",
        url="https://example.social/@fictional/1",
    )
    post = ingestor.ingest(r, KEY, NOW, ids=IDS)
    # The platform id names the author: stored keyed, kept only sealed for re-checks.
    platform_id = "mastodon:https://example.social/users/fictional/statuses/1"
    assert post.id == IDS.key(platform_id) and post.id.startswith("mastodon:")
    assert post.origin is not None and IDS.open(post.origin) == platform_id
    assert post.url == IDS.link("https://example.social/@fictional/1")
    assert post.text == "Crowd gathering at Girlington & near Lister Park"
    assert post.language == "en"
    assert post.created_at == datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
    assert post.collected_at == NOW
    assert post.like_count == 0 and post.repost_count == 2
    assert post.source == "mastodon:example.social"
    assert [(p.name, p.ward, p.locality) for p in post.places] == [
        ("Girlington", "Toller", "Bradford West"),
        ("Lister Park", "Manningham", "Bradford West"),
    ]
    assert post.author_ref == author_ref(KEY, "mastodon", "https://example.social/users/fictional")


def test_the_raw_author_id_is_never_on_the_post(ingestor: Ingestor) -> None:
    secret_id = "did:plc:fictional-author-id"
    post = ingestor.ingest(raw(author_id=secret_id), KEY, NOW, ids=IDS)
    for f in fields(post):
        assert secret_id not in repr(getattr(post, f.name)), f.name


def test_ingest_refuses_times_without_offsets_and_overlong_ids(ingestor: Ingestor) -> None:
    with pytest.raises(IngestError, match="UTC offset"):
        ingestor.ingest(raw(created_at=datetime(2026, 11, 3, 10, 0)), KEY, NOW, ids=IDS)
    with pytest.raises(IngestError, match="id is too long"):
        ingestor.ingest(raw(native_id="x" * 600), KEY, NOW, ids=IDS)
    with pytest.raises(IngestError, match="reply_to is too long"):
        ingestor.ingest(raw(reply_to="bluesky:" + "x" * 600), KEY, NOW, ids=IDS)
    with pytest.raises(IngestError):
        ingestor.ingest(raw(native_id=""), KEY, NOW, ids=IDS)


def test_ingestor_from_settings_uses_the_settings() -> None:
    settings = Settings(max_text_chars=30, places="bradford")
    ing = Ingestor.from_settings(settings, ROOT)
    post = ing.ingest(raw("Bradford and Kirklees, again and again and again"), KEY, NOW, ids=IDS)
    assert post.truncated and post.text == "Bradford and Kirklees, again"
    assert [p.district for p in post.places] == ["Bradford"]  # Kirklees' gazetteer is off
