"""Training augmentation for the fine-tuned hostile head (issue 18), every post fictional.

Why each part exists (measured by `monitor eval --suites-only`, never tuned on its suite):
- **counterfactual swaps** of real training posts: the group term a post names is swapped for
  another group's, the label kept. HatEval and Davidson attack immigrants and women far more
  than anyone else, so a head learns "names women" as evidence of hate; with swaps every group
  appears in hateful and ordinary posts at the same rate.
- **identity sentences**: freshly written neutral and positive sentences in many shapes naming
  every group in ../shared/reference/identity-groups.md (not hostile), beside hostile shapes
  about the same groups, so the group word alone carries no signal;
- **counter-speech and solidarity**: quoting hate to reject it, support for a targeted group
  and hashtag waves (not hostile): the shortcut "group word + negative word = hate" is exactly
  what they contradict;
- **obfuscated variants** of hostile sentences (swapped, dropped letters and run-together
  words, which the deobfuscator does not undo), label kept.

These shapes are written apart from the fairness suite (tests/fixtures/fairness/) and the bias
suite (tests/fixtures/bias/), whose sentences measure generalisation. A held-out share of the
shapes (`split="val"`) is validation data for early stopping; no test suite is ever read here.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from monitor.classify.obfuscation import drop, swap

# Every group in the reference list, in surface forms of our own (plural noun phrases): a
# table of words, kept as data beside this module rather than as code.
IDENTITY_FORMS: dict[str, tuple[str, ...]] = {
    group: tuple(forms)
    for group, forms in json.loads(
        Path(__file__).with_name("identity_forms.json").read_text(encoding="utf-8")
    ).items()
}

PLACES: tuple[str, ...] = (
    "Allerton",
    "Bowling",
    "Eccleshill",
    "Idle",
    "Wibsey",
    "Queensbury",
    "Mirfield",
    "Heckmondwike",
    "Marsden",
    "Lindley",
    "Cleckheaton",
    "Wyke",
)

# Shapes: {g} a group form, {p} a place. Training and validation shapes are disjoint.
MENTION: tuple[str, ...] = (
    "{g} from {p} will be on the panel at the library tonight.",
    "Went to a talk by {g} about the history of {p}, really interesting.",
    "The bus to {p} is full of {g} heading to the match.",
    "My manager and half my team are {g}.",
    "Are there any groups for {g} near {p}?",
    "{g} in {p} say the new crossing has made school runs safer.",
    "Council to consult {g} on the park plans for {p}.",
    "Radio Leeds did a piece on {g} who run allotments in {p}.",
    "I grew up next door to {g} and still visit them every Christmas.",
    "Thanks to {g} who cleared the snow on our road in {p}.",
    "{g} raised six hundred quid for the hospice in {p} this weekend.",
    "Proud of the {g} who run the youth football club in {p}.",
    "Lovely afternoon at the {p} fun day, loads of {g} and everyone else too.",
    "Is the drop-in for {g} still on Thursdays in {p}?",
    "New study looks at how {g} use GP services in West Yorkshire.",
    "{g} have lived in {p} for generations.",
    "A book club for {g} is starting at the community centre in {p}.",
    "Shout out to {g} volunteering at the {p} food bank every week.",
    "Being one of the {g} in {p} is mostly about arguing over parking like everyone else.",
    "Why do people assume {g} all think the same? We don't.",
    "{g} are just people getting on with their lives.",
    "The school in {p} has a mix of kids, {g} included, and it's brilliant.",
    "Census shows the number of {g} in {p} has grown since 2011.",
    "Met some {g} at the {p} market, we swapped recipes.",
    "{g} welcome at the repair cafe in {p}, bring your broken toasters.",
    "Our choir in {p} has {g}, retired teachers and a postman.",
    "As one of the {g} here, I love {p}.",
    "{g} and their kids had a great time at the {p} gala.",
    "Interview with {g} who opened a bakery in {p}.",
    "The councillor for {p} held a surgery for {g} on Saturday.",
)
MENTION_VAL: tuple[str, ...] = (
    "{g} from {p} organised the litter pick this morning.",
    "Does anyone know a support group for {g} in {p}?",
    "Our neighbours are {g} and they're the best.",
    "{g} spoke at the {p} ward forum about street lighting.",
    "Film night in {p} for {g} and friends, all welcome.",
)
COUNTER: tuple[str, ...] = (
    'Someone sprayed "{g} out" on the wall in {p}. Disgusting, it has to be reported.',
    "People calling {g} vermin should be ashamed of themselves.",
    "I'm sick of hearing people say {g} are the problem. They're not.",
    'Saw a post saying "{g} are animals". No. That is hate and we won\'t share it.',
    "Calling {g} scum is not free speech, it's abuse. Report it.",
    "If your answer to everything is blaming {g}, you've been lied to.",
    "Stop spreading hate about {g}. They are our neighbours.",
    "Whoever shouted slurs at {g} in {p} last night does not speak for us.",
    "The leaflets telling {g} to go home are vile and the police should find who did it.",
    "I don't hate {g}, I hate the people who stir up trouble.",
    "Nobody in {p} wants those thugs who attack {g}.",
    "Those comments about {g} being dirty are racist rubbish, end of.",
)
COUNTER_VAL: tuple[str, ...] = (
    "Heard someone call {g} parasites on the bus. Not acceptable, I said so.",
    "Hating {g} won't fix the potholes in {p}.",
    "That graffiti about {g} is hateful and has been painted over.",
)
SOLIDARITY: tuple[str, ...] = (
    "We stand with {g} in {p}. Hate has no home here.",
    "Love and solidarity to {g} after what happened in {p}.",
    "#{p}StandsTogether with {g}",
    "#NotInOurName - {g} belong in {p}",
    "Solidarity with {g} today and every day. #LoveNotHate",
    "{g} are welcome here. #{p}Together",
    "To {g} in {p}: you are not alone, we have your back.",
    "Vigil in {p} tonight to support {g}. Bring a candle.",
    "#WeAreAllBradford - {g} too.",
    "Everyone in {p} is standing up for {g} this week. #OneCommunity",
)
SOLIDARITY_VAL: tuple[str, ...] = (
    "Thinking of {g} in {p} today. #LoveYourNeighbour",
    "{g}, we are with you. #NoPlaceForHate",
)
HOSTILE: tuple[str, ...] = (
    "{g} are vermin and should be driven out of {p}.",
    "Get {g} out of {p}, they don't belong here.",
    "{g} are filthy parasites living off the rest of us.",
    "Someone needs to teach {g} in {p} a lesson they won't forget.",
    "{g} are subhuman, I can't stand being near them.",
    "Burn them out, every last one of the {g} in {p}.",
    "{g} are a disease spreading through {p}.",
    "Never trust {g}, they're all liars and thieves.",
    "{g} should be banned from living in {p}.",
    "We need to deal with {g} before they ruin {p} completely.",
    "{g} are animals and deserve what's coming.",
    "Sick of {g} infesting {p}. Send them all back.",
)
HOSTILE_VAL: tuple[str, ...] = (
    "{g} are scum and {p} would be better without them.",
    "{g} are rats, time to clear them out of {p}.",
    "Round up {g} and kick them out.",
)

# Group terms in real training posts that a counterfactual swap may replace (whole words,
# plural nouns, case-insensitive). Bare "women"/"men" included: HatEval's misogyny half.
_SWAPPABLE = re.compile(
    r"\b(women|woman|girls|men|immigrants|immigrant|migrants|migrant|refugees|refugee|"
    r"muslims|muslim|islam|jews|jewish|blacks|gays|gay|lesbians|lesbian|queers|trans|"
    r"asylum seekers|illegals|illegal aliens|aliens|arabs|mexicans|africans|"
    r"latinos|somalis|syrians|pakistanis|indians|chinese|asians)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    hostile: int
    kind: str  # "swap" | "mention" | "counter" | "solidarity" | "hostile" | "obfuscated"


def _fill(shape: str, rng: random.Random, group: str) -> str:
    form = rng.choice(IDENTITY_FORMS[group])
    text = shape.replace("{p}", rng.choice(PLACES)).replace("{g}", form)
    return text[0].upper() + text[1:]


def identity_examples(seed: int, split: str = "train", per_group: int = 1) -> list[Example]:
    """Every shape filled for every group `per_group` times: mentions, counter-speech and
    solidarity (label 0) and hostile shapes (label 1). `split="val"` gives the held-out
    shapes, for early stopping."""
    rng = random.Random(f"{seed}:{split}")
    sets: list[tuple[Sequence[str], int, str]] = (
        [
            (MENTION, 0, "mention"),
            (COUNTER, 0, "counter"),
            (SOLIDARITY, 0, "solidarity"),
            (HOSTILE, 1, "hostile"),
        ]
        if split == "train"
        else [
            (MENTION_VAL, 0, "mention"),
            (COUNTER_VAL, 0, "counter"),
            (SOLIDARITY_VAL, 0, "solidarity"),
            (HOSTILE_VAL, 1, "hostile"),
        ]
    )
    out: list[Example] = []
    for shapes, label, kind in sets:
        for shape in shapes:
            for group in IDENTITY_FORMS:
                for _ in range(per_group):
                    out.append(Example(_fill(shape, rng, group), label, kind))
    return out


def counterfactual(texts: Sequence[str], labels: Sequence[int], seed: int) -> list[Example]:
    """Each real post that names a swappable group term, once more with every such term
    replaced by one other group's form (the same one throughout the post), label kept."""
    rng = random.Random(f"{seed}:swap")
    groups = sorted(IDENTITY_FORMS)
    out: list[Example] = []
    for text, label in zip(texts, labels, strict=True):
        if not _SWAPPABLE.search(text):
            continue
        form = IDENTITY_FORMS[rng.choice(groups)][0]
        out.append(Example(_SWAPPABLE.sub(form, text), int(label), "swap"))
    return out


def _run_together(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    if len(words) < 3:
        return text
    i = rng.randrange(len(words) - 2)
    return " ".join(words[:i] + ["".join(words[i : i + 3])] + words[i + 3 :])


def obfuscated(examples: Sequence[Example], seed: int) -> list[Example]:
    """Hostile examples with their longest word swapped or cut, or three words run together
    (the disguises the deobfuscator leaves); label kept."""
    rng = random.Random(f"{seed}:obf")
    out: list[Example] = []
    for ex in examples:
        if ex.hostile != 1:
            continue
        words = ex.text.split(" ")
        j = max(range(len(words)), key=lambda k: len(words[k].strip(".,!?")))
        way = rng.randrange(3)
        if way == 2:
            text = _run_together(ex.text, rng)
        else:
            core = words[j].strip(".,!?")
            words[j] = words[j].replace(core, swap(core) if way == 0 else drop(core))
            text = " ".join(words)
        out.append(Example(text, 1, "obfuscated"))
    return out


def augmentation(real_texts: Sequence[str], real_labels: Sequence[int], seed: int) -> list[Example]:
    """All training augmentation for the hostile task."""
    ident = identity_examples(seed, "train")
    return counterfactual(real_texts, real_labels, seed) + ident + obfuscated(ident, seed)
