"""Romanised Urdu and Punjabi: posts written in Latin letters that py3langid cannot place.

py3langid has no model for Urdu or Punjabi in Latin letters: on the multilingual suite
(tests/fixtures/fairness/languages.yaml) it gives no language (its best guess is Hausa,
Sotho, Shona or Javanese at 10-50 % confidence) for nearly every romanised post, so those
posts were scored by the English-only classifier as if they were English fragments. This check
names them instead, so that the service counts them as not scored ("12 Urdu posts not scored
by the classifier; rules still apply").

How: the words of romanised Urdu and Punjabi that carry the grammar (postpositions, verb
endings, pronouns, negation) are few and very frequent, and almost none of them is an English
word. A post is called romanised Urdu or Punjabi when enough of its words are such markers
(`MIN_MARKERS` and `MIN_SHARE`). Punjabi and Urdu share many of them; words only one of the two
uses ("nu", "vich", "naal", "ae" against "ko", "mein", "hai", "hain") decide which, Urdu on a
tie (more common in Bradford and Kirklees).

Deliberately left out: English words and common English slang ("main", "the", "to", "me",
"ho", "do", "bus", "par", "hum", "us"), so that an English post quoting a word or two of Urdu
stays English. It runs only where py3langid is unsure (see `monitor.ingest.core`).
"""

from __future__ import annotations

import re

# Markers used by both (the Hindustani and Punjabi core of informal romanised posts).
SHARED: frozenset[str] = frozenset(
    """
    aap apna apne apni aur bahut bohat bohot bhi chahiye dena diya ek ghar hona inhe inko
    inka inki jahan jis kaam kahan kar karo karna karte karta karke kehna kehte kisi koi
    kuch kya kyun kyon liye magar mera meri mere nahi nahin nai pata phir raha rahi rahe sab
    saare sirf suna tha thi tum tumhare unki unka unko wala wali wale wapas ye yeh woh wo
    haan nafrat shukriya meharbani ne de di aaj raat chalo ji yaar bhai agar lekin abhi
    bahar bahir aaye aayi aaya gaye keh jao acha accha achha sach har tak kal khud warna
    jagah khilaf poora insaan bachay hafte
    """.split()
)
# Markers of Urdu (and Hindi) against Punjabi.
URDU: frozenset[str] = frozenset(
    """
    hai hain ko ke ka ki se mein mai mujhe hamara hamare hamari humein hume kehta gaya
    gayi rahenge denge sakte sakta chahta wahan yahan iski uski isko usko usay
    pe unke unka logon walon hua hue hota hote hogi jaye pehle baat saath bachon zyada
    laga mila nayi inse jitni utna kabhi dekha dekho kaise shuru
    """.split()
)
# Markers of Punjabi against Urdu.
PUNJABI: frozenset[str] = frozenset(
    """
    nu da vich wich naal ae si assi asi tusi tussi sanu tuhanu mainu tenu ohna ehna ohnu
    enu kithe ethe othe jithon hor ajj kamm saada saadi saade tuhadi tuhade tuhada
    kehnda kehndi kehnde karde kita kiti ditta hoya reha suneya kise layi lok lokan
    dayange dayanga chaunda chahida chahidi vekhya te ik jehre jehda jehdi
    ay ni vi toon aan walay walyan walyo kisay saray saaray saari saariyan munday saaday
    assaan tusaan changa changay pehlan ainaan inhaan vajay vaari jehra jehray reya
    aanday hunde hunday kinna kithay aakh aakhdi aakhya ohdi nawi nawen kuri puttar
    hosi rehsi jalsi nikalsi paysi rakhsi lesi dekhsan milsan lesan bhejsan jaasan
    """.split()
)
# Pothwari and Mirpuri, the Punjabi of many Bradford families, make the future with -saan
# ("karsaan", "desaan", "maarsaan": I or we will); no English word ends so.
_PUNJABI_FUTURE = "saan"


def _punjabi_future(word: str) -> bool:
    return len(word) > 5 and word.endswith(_PUNJABI_FUTURE)


MARKERS: frozenset[str] = SHARED | URDU | PUNJABI

# At least this many marker words, and this share of the post's words: a whole post in
# romanised Urdu has one in three or more (median 0.5 on the suite's training posts), but posts
# full of names and English words ("Council meeting Thursday 6 baje City Hall me") have one in
# four. English posts that borrow a word ("Eid mubarak, sab ko") stay well below: at 0.25 one
# of 51,853 English tweets is taken, and it is romanised Urdu; at 0.2 English written with
# "da" for "the" begins to be.
MIN_MARKERS = 3
MIN_SHARE = 0.25

_WORD = re.compile(r"[a-z]+")


def romanised_language(text: str) -> str | None:
    """'ur' or 'pa' when `text` reads as romanised Urdu or Punjabi, else None."""
    words = _WORD.findall(text.lower())
    if not words:
        return None
    hits = [w for w in words if w in MARKERS or _punjabi_future(w)]
    if len(hits) < MIN_MARKERS or len(hits) / len(words) < MIN_SHARE:
        return None
    punjabi = sum(w in PUNJABI or _punjabi_future(w) for w in hits)
    urdu = sum(w in URDU for w in hits)
    return "pa" if punjabi > urdu else "ur"


# Punjabi in Shahmukhi (Perso-Arabic letters) is written with Urdu's alphabet, and py3langid,
# which has no Punjabi model for that script, calls it Urdu. Its grammar words differ: these
# are Punjabi's (postpositions, copula, pronouns) where Urdu has کو، میں، ہے، ہیں، ہم، تم.
SHAHMUKHI: frozenset[str] = frozenset(
    """
    نوں وچ وچوں نیں اے سی نال ساڈا ساڈی ساڈے ساڈیاں تہاڈا تہاڈی تہاڈے سانوں مینوں تینوں
    اوہنوں اینوں اسیں تسیں ایہہ ایہناں اوہناں کتھے ایتھے اوتھے جتھوں ہور اج گل جیہڑے جیہڑا
    آکھدے آکھدا آکھیا کیتا کیتی دتا دتی گھلو گھلیا چاہیدا نئیں آں لئی اک ایس تے لوک
    """.split()
)
URDU_ARABIC_SCRIPT: frozenset[str] = frozenset(
    """
    کو میں ہے ہیں نہیں ہم تم ہمارا ہماری ہمارے ہمیں انہیں اور سے کہتے کہتا کہا گیا گئی
    رہے رہی رہا چاہیے یہاں وہاں
    """.split()
)
_ARABIC_WORD = re.compile(r"[\u0600-\u06ff\u0750-\u077f]+")


def punjabi_in_urdu_script(text: str) -> bool:
    """Whether a post that py3langid calls Urdu is Punjabi in Shahmukhi: at least two Punjabi
    grammar words and more of them than Urdu ones."""
    words = _ARABIC_WORD.findall(text)
    punjabi = sum(w in SHAHMUKHI for w in words)
    return punjabi >= 2 and punjabi > sum(w in URDU_ARABIC_SCRIPT for w in words)
