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
    "My nan used to say {g} were dirty. She was wrong and I told her so.",
    "Someone on the {p} group called {g} a plague. Reported, and you should too.",
    "The bloke shouting that {g} should go home was arrested. Good.",
    "'Kick {g} out' is not a political opinion, it's hate.",
    "Posting that {g} are rats and then saying 'only joking' doesn't wash.",
    "Whoever put up the stickers calling {g} invaders in {p}: we've taken every one down.",
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
    "Flowers outside the {p} centre for {g} this morning. We're with you.",
    "#HandsAround{p} for {g} on Sunday, come along.",
    "Proud to march with {g} through {p} today. #UnitedAgainstHate",
    "Nobody messes with {g} on our street. #{p}Strong",
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

# Negated and denied hostility (not hostile): "group word + negative word" is not hate when
# the negative word is negated, denied or disowned. The first fine-tuning learnt that shortcut
# ("I don't hate X" flagged far more often than before it).
NEGATED: tuple[str, ...] = (
    "I don't hate {g}, never have.",
    "No, {g} are not criminals, and saying so doesn't make it true.",
    "It's simply not true that {g} are taking over {p}.",
    "I would never tell {g} to leave {p}. This is their home too.",
    "Nobody I know thinks {g} are dangerous.",
    "{g} aren't the reason the buses in {p} are late, the council is.",
    "I used to think {g} were a problem until I actually met some. I was wrong.",
    "There is nothing disgusting about {g} holding hands in {p} park.",
    "Don't let anyone tell you {g} are less than anyone else.",
    "I refuse to blame {g} for the state of the high street in {p}.",
)
NEGATED_VAL: tuple[str, ...] = (
    "I really don't have a problem with {g}, why would I?",
    "{g} are not a threat to anyone in {p}.",
)
# Same frame, two posts: one neutral or warm about the group, one hostile toward it. Only the
# words that carry the hostility differ, so the group word and the frame carry no signal.
CONTRAST: tuple[tuple[str, str], ...] = (
    ("We need more {g} on the committee in {p}.", "We need fewer {g} in {p}, get them gone."),
    ("{g} make {p} a better place to live.", "{g} make {p} a worse place, they're a plague."),
    (
        "Really glad {g} moved in on our street.",
        "Disgusted that {g} moved in on our street, filthy lot.",
    ),
    ("{g} deserve the same respect as anyone.", "{g} deserve nothing but contempt."),
    (
        "Let {g} have their say at the {p} meeting.",
        "Don't let {g} speak at the {p} meeting, they're lying scum.",
    ),
    ("{g} are part of what makes {p} home.", "{g} are a cancer eating away at {p}."),
    ("{g} are welcome in {p}, always have been.", "{g} are not welcome in {p} and never will be."),
    ("Honestly {g} are the kindest folk in {p}.", "Honestly {g} are the worst vermin in {p}."),
    (
        "Had a good natter with {g} at the bus stop in {p}.",
        "Had to stand near {g} at the bus stop in {p}, stinking animals.",
    ),
    ("I'd trust {g} with my house keys.", "I'd never trust {g}, they're born thieves."),
    ("Give {g} in {p} a fair chance.", "Give {g} in {p} a good kicking."),
    ("The more {g} in {p} the better.", "The fewer {g} in {p} the better, drive them out."),
)
CONTRAST_VAL: tuple[tuple[str, str], ...] = (
    ("{g} have done so much for {p}.", "{g} have done nothing but wreck {p}."),
    ("Happy to have {g} as neighbours.", "Sick of having {g} as neighbours, dirty rats."),
)
# Abuse of targets that are not protected groups (not hostile in this head's sense: it is about
# identity-based hostility; `offensive` covers insults). The first fine-tuning flagged far
# fewer of these as not hostile than before it, another face of the same shortcut.
NON_PROTECTED: tuple[str, ...] = (
    "the fly-tippers",
    "the council",
    "dodgy landlords",
    "whoever nicked my bike",
    "the idiots racing cars through {p}",
    "parking wardens",
    "the people who never pick up after their dogs",
    "City fans",
    "politicians",
    "the cowboy builders who did our roof",
    "bin lorry drivers who block the road",
    "estate agents",
)
NON_PROTECTED_VAL: tuple[str, ...] = (
    "the energy companies",
    "people who play music on the bus",
    "the phone scammers",
)
ABUSE: tuple[str, ...] = (
    "{t} are absolute scum.",
    "I hate {t}, every last one of them.",
    "{t} are vermin, honestly.",
    "Can't stand {t}, useless parasites the lot of them.",
    "{t} should be ashamed, bunch of lying rats.",
    "{t} in {p} are a disgrace and a joke.",
)
ABUSE_VAL: tuple[str, ...] = (
    "{t} are a plague on this town.",
    "Honestly {t} are the worst people alive.",
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
    # "swap" | "mention" | "counter" | "solidarity" | "negated" | "contrast" | "nonprotected"
    # | "hostile" | "obfuscated" | "groupabuse" | "threat" | "threatcontrast" | "threateveryday"
    kind: str


def _fill(shape: str, rng: random.Random, group: str, fixed: tuple[str, str] | None = None) -> str:
    """`shape` with a form of `group` and a place, both drawn unless `fixed` (form, place)."""
    form, place = fixed or (rng.choice(IDENTITY_FORMS[group]), rng.choice(PLACES))
    text = shape.replace("{p}", place).replace("{g}", form)
    return text[0].upper() + text[1:]


def identity_examples(seed: int, split: str = "train", per_group: int = 1) -> list[Example]:
    """Every shape filled for every group `per_group` times: mentions, counter-speech,
    solidarity and negated hostility (label 0), contrastive pairs (the same frame warm and
    hostile, same group and place), hostile shapes (label 1), and abuse of targets that are
    not protected groups (label 0). `split="val"` gives the held-out shapes, for early
    stopping and the hostile threshold's operating point."""
    rng = random.Random(f"{seed}:{split}")
    train = split == "train"
    sets: list[tuple[Sequence[str], int, str]] = [
        (MENTION if train else MENTION_VAL, 0, "mention"),
        (COUNTER if train else COUNTER_VAL, 0, "counter"),
        (SOLIDARITY if train else SOLIDARITY_VAL, 0, "solidarity"),
        (NEGATED if train else NEGATED_VAL, 0, "negated"),
        (HOSTILE if train else HOSTILE_VAL, 1, "hostile"),
    ]
    out: list[Example] = []
    for shapes, label, kind in sets:
        for shape in shapes:
            for group in IDENTITY_FORMS:
                for _ in range(per_group):
                    out.append(Example(_fill(shape, rng, group), label, kind))
    for benign, hostile in CONTRAST if train else CONTRAST_VAL:
        for group in IDENTITY_FORMS:
            for _ in range(per_group):
                fixed = (rng.choice(IDENTITY_FORMS[group]), rng.choice(PLACES))
                out.append(Example(_fill(benign, rng, group, fixed), 0, "contrast"))
                out.append(Example(_fill(hostile, rng, group, fixed), 1, "contrast"))
    out += non_protected_abuse(seed, split)
    return out


def non_protected_abuse(seed: int, split: str = "train") -> list[Example]:
    """Insults aimed at targets that are not protected groups (label 0), each shape for each
    target."""
    rng = random.Random(f"{seed}:{split}:np")
    train = split == "train"
    out: list[Example] = []
    for shape in ABUSE if train else ABUSE_VAL:
        for target in NON_PROTECTED if train else NON_PROTECTED_VAL:
            place = rng.choice(PLACES)
            text = shape.replace("{t}", target).replace("{p}", place)
            out.append(Example(text[0].upper() + text[1:], 0, "nonprotected"))
    return out


# The same insults aimed at protected groups: hostile. Without them the non-protected abuse
# above taught that these frames themselves are harmless, and the fine-tuned head missed
# plain first-person hatred and dehumanisation of a group in just these words. The
# first-person frame is worded apart from its non-protected twin so that no sentence here
# repeats a test suite's ("I hate X, every last one of them" is in the obfuscation suite).
GROUP_ABUSE: tuple[str, ...] = tuple(
    shape.replace("{t}", "{g}").replace("every last one of them", "the whole rotten lot of them")
    for shape in ABUSE
)


def group_abuse(seed: int) -> list[Example]:
    """Each `GROUP_ABUSE` shape for each group (label 1): the contrast to
    `non_protected_abuse`, for the hostile head's refit (`monitor.classify.refit`)."""
    rng = random.Random(f"{seed}:group-abuse")
    return [
        Example(_fill(shape, rng, group), 1, "groupabuse")
        for shape in GROUP_ABUSE
        for group in IDENTITY_FORMS
    ]


# Threats, and benign sentences built from the same slots (a group, a place, a building, a
# time; every sentence names the group and the place): the hostile head caught 1 of the
# language suite's 8 English threats, which read like announcements of a time and a place.
# A threat and its twin share their slots, so only the frame (harm intended against the
# group, a wish or reward for it, an ultimatum) carries the label; reports and condemnations
# of threats, idioms ("I'd kill for a brew") and plans to help are the benign frames. A
# threat head trained on a dozen fixed threat sentences learnt their words (neighbours,
# roads, times) instead (model card, "Other representations").
THREAT_BUILDINGS: tuple[str, ...] = (
    "mosque", "gurdwara", "synagogue", "church", "hotel", "shop", "community centre",
    "takeaway", "temple", "hostel", "flats", "community hall",
)  # fmt: skip
THREAT_TIMES: tuple[str, ...] = (
    "tonight", "on Friday", "after the match", "at nine", "this weekend", "when it gets dark",
    "tomorrow", "on Saturday night", "after the pubs shut", "next week",
)  # fmt: skip
THREAT_DEADLINES: tuple[str, ...] = (
    "Friday", "the weekend", "tomorrow night", "the end of the month", "Sunday", "next week",
)  # fmt: skip
# Said by the writer, of what they or others should do; "{b}" a building, "{t}" a time.
THREAT_INTENT: tuple[str, ...] = (
    "we're going to", "I'll", "we will", "someone should", "it's time to", "let's",
    "I swear I'll", "next time I see them I'll", "one of these days we'll", "we need to",
    "somebody needs to", "I'm going to", "who's coming to",
)  # fmt: skip
THREAT_HARM: tuple[str, ...] = (
    "burn down the {b} the {g} use in {p}",
    "torch the {b} of the {g} in {p}",
    "put every window in at the {b} the {g} use in {p}",
    "stab the first of the {g} we see in {p}",
    "batter any of the {g} walking through {p}",
    "run the {g} out of {p} with bats",
    "set fire to the {b} in {p} where the {g} meet",
    "shoot the lot of the {g} in {p}",
    "drag the {g} out of that {b} in {p} and kick their heads in",
    "firebomb the {b} the {g} use on the main road in {p}",
    "make the {g} in {p} bleed",
    "smash up every {b} the {g} use in {p}",
    "hunt down the {g} in {p}",
)
THREAT_HARM_DONE: tuple[str, ...] = (
    "burns down the {b} the {g} use in {p}",
    "torches the {b} of the {g} in {p}",
    "stabs one of the {g} in {p}",
    "shoots the {g} at the {b} in {p}",
    "sets fire to the {b} the {g} use in {p}",
    "batters the {g} outside the {b} in {p}",
)
THREAT_WISH: tuple[str, ...] = (
    "I'd buy a pint for whoever {h}.",
    "Hope someone {h} {t}.",
    "Fair play to whoever {h} {t}.",
)
THREAT_CONSEQUENCE: tuple[str, ...] = (
    "your {b} burns",
    "you'll be carried out",
    "you'll get hurt",
    "we'll torch the place",
    "the {b} goes up in flames",
    "you'll wish you had",
    "we'll come for your kids",
)
# The same intent words, with help instead of harm.
THREAT_BENIGN_ACT: tuple[str, ...] = (
    "paint the {b} the {g} use in {p}",
    "help the {g} clean up the {b} in {p}",
    "meet the {g} at the {b} in {p}",
    "fix the roof of the {b} the {g} use in {p}",
    "take food to the {g} at the {b} in {p}",
    "visit the {b} the {g} use on the open day in {p}",
    "welcome the {g} at the {b} in {p}",
    "collect for the {b} the {g} use in {p}",
    "play football with the {g} lads in {p}",
    "celebrate with the {g} at the {b} in {p}",
    "sort out the bins outside the {b} the {g} use in {p}",
    "stand guard outside the {b} the {g} use in {p}",
)
# A threat reported or condemned ("{h}" one of THREAT_HARM): not hostile, as counter-speech.
THREAT_REPORTED: tuple[str, ...] = (
    "Police arrested a man who posted that he would {h}. Good.",
    "Someone wrote that they'd {h}. Reported, and it's vile.",
    "Threatening to {h} is a crime. Report posts like that to 101.",
    "A lad at the bus stop said he wanted to {h}. I told him to get lost.",
    "The court heard he had threatened to {h}. He got two years.",
    "Anyone saying we should {h} does not speak for {p}.",
)
THREAT_IDIOM: tuple[str, ...] = (
    "I'd kill for a brew after the fun run with the {g} in {p} {t}.",
    "The five-a-side team of {g} are going to smash it in {p} {t}.",
    "We're going to burn some calories at the {p} park run with the {g} {t}.",
    "My feet are killing me after helping at the {b} the {g} use in {p}.",
    "The choir of {g} absolutely slayed it at the {b} in {p} {t}.",
    "Bonfire at the {b} the {g} use in {p} {t}, fireworks at seven.",
    "Fire drill at the {b} the {g} use in {p} {t}, nobody panic.",
    "My neighbours are {g} and we're sharing a barbecue on our road in {p} {t}.",
)
# Everyday announcements of a place and a time, naming no group: without them the threats
# taught "a place and a time" as hostility (the demo week's chatter flagged 22 -> 73 posts).
THREAT_EVERYDAY: tuple[str, ...] = (
    "Roadworks on the main road in {p} {t}, leave early.",
    "Bin collection in {p} is moving to {t} because of the bank holiday.",
    "The {b} in {p} is shut {t} for repairs, sorry folks.",
    "Fireworks at the park in {p} {t}, bring the kids and a torch.",
    "Power cut across {p} {t}, should be back on soon.",
    "Anyone know why the buses through {p} are diverted {t}?",
    "Big match {t}, every pub in {p} will be rammed.",
    "Street party in {p} {t}, everyone welcome, bring a dish.",
    "Speed checks on the way into {p} {t}, slow down.",
    "The water will be off in {p} {t} while they fix the main.",
    "Car boot sale at the {b} in {p} {t}, get there early.",
    "Gritters are out in {p} {t}, the side roads will be icy.",
)


def _slotted(shape: str, slots: dict[str, str]) -> str:
    for name, value in slots.items():
        shape = shape.replace("{" + name + "}", value)
    return shape


def threat_contrast(seed: int, per_group: int) -> list[Example]:
    """For each group, `per_group` threats (label 1: an intent to harm, an ultimatum, a wish
    or reward for harm, a call to join in), each followed by a benign twin from the same
    group, place, building and time (label 0: a plan to help, a reported or condemned threat,
    an idiom) and an everyday announcement of the same place and time that names no group
    (label 0), for the hostile head's refit (`monitor.classify.refit`)."""
    rng = random.Random(f"{seed}:threat-contrast")
    out: list[Example] = []
    for group in IDENTITY_FORMS:
        for _ in range(per_group):
            slots = {
                "g": rng.choice(IDENTITY_FORMS[group]),
                "p": rng.choice(PLACES),
                "b": rng.choice(THREAT_BUILDINGS),
                "t": rng.choice(THREAT_TIMES),
            }
            frame = rng.randrange(4)
            if frame == 0:
                threat = f"{rng.choice(THREAT_INTENT)} {rng.choice(THREAT_HARM)} {{t}}."
            elif frame == 1:
                deadline = rng.choice(THREAT_DEADLINES)
                threat = f"{{g}}, leave {{p}} by {deadline} or {rng.choice(THREAT_CONSEQUENCE)}."
            elif frame == 2:
                threat = rng.choice(THREAT_WISH).replace("{h}", rng.choice(THREAT_HARM_DONE))
            else:
                threat = f"{rng.choice(THREAT_INTENT)} {rng.choice(THREAT_HARM)}, who's with me?"
            frame = rng.randrange(3)
            if frame == 0:
                twin = f"{rng.choice(THREAT_INTENT)} {rng.choice(THREAT_BENIGN_ACT)} {{t}}."
            elif frame == 1:
                twin = rng.choice(THREAT_REPORTED).replace("{h}", rng.choice(THREAT_HARM))
            else:
                twin = rng.choice(THREAT_IDIOM)
            everyday = rng.choice(THREAT_EVERYDAY)
            for shape, label, kind in (
                (threat, 1, "threat"),
                (twin, 0, "threatcontrast"),
                (everyday, 0, "threateveryday"),
            ):
                text = _slotted(shape, slots)
                out.append(Example(text[0].upper() + text[1:], label, kind))
    return out


def counterfactual(
    texts: Sequence[str], labels: Sequence[int], seed: int, copies: int = 1
) -> list[Example]:
    """Each real post that names a swappable group term, `copies` times more with every such
    term replaced by one other group's form (the same one throughout a copy, another group
    for each copy), label kept."""
    rng = random.Random(f"{seed}:swap")
    groups = sorted(IDENTITY_FORMS)
    out: list[Example] = []
    for text, label in zip(texts, labels, strict=True):
        named = {m.lower() for m in _SWAPPABLE.findall(text)}
        if not named:
            continue
        # Never "swap" a term for its own group (refugees -> refugee families).
        others = [
            g for g in groups if not any(n in f.lower() for f in IDENTITY_FORMS[g] for n in named)
        ]
        for group in rng.sample(others, copies):
            form = IDENTITY_FORMS[group][0] if copies == 1 else rng.choice(IDENTITY_FORMS[group])
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


# Hatred in the shapes functional hate-speech tests probe, each with a twin in the same shape
# that is not hostile. On such shapes, worded apart from these, the hostile head caught about
# half: plain derogation ("{g} are ...") mostly, but hatred carried by a pronoun in a second
# sentence, asked as a question, hedged as an opinion, wished as violence ("{g} should be
# ...") or announced against anyone of a group seen in the street far less; the same
# sentences' negations were flagged one time in six. A hateful sentence, its twin (the same
# frame and slots with warm words), its negation or rejection, and the same words aimed at a
# target that is not a protected group share one predicate, so only what is said about whom
# carries the label. "{n}" a derogatory predicate, "{a}" a derogatory adjective, "{w}" and
# "{j}" their warm counterparts, "{t}" a target that is not a protected group.
FUNCTION_NEG_PRED: tuple[str, ...] = (
    "scum", "filth", "a menace to decent people", "parasites", "savages", "a blight on {p}",
    "rotten to the core", "a stain on this country", "vile creatures", "dirty and dangerous",
    "not fully human", "a danger to our kids", "criminals by nature", "lower than dirt",
)  # fmt: skip
FUNCTION_WARM_PRED: tuple[str, ...] = (
    "a credit to {p}", "kind and generous", "the backbone of {p}", "great neighbours",
    "good company", "brave and funny", "part of the family", "as decent as anyone",
    "a gift to this country", "a real help at the food bank", "the best cooks on our road",
    "welcome here",
)  # fmt: skip
FUNCTION_NEG_ADJ: tuple[str, ...] = (
    "filthy", "dishonest", "useless", "violent", "thick", "disgusting", "lazy", "creepy",
)  # fmt: skip
FUNCTION_WARM_ADJ: tuple[str, ...] = (
    "generous", "welcoming", "hard-working", "funny", "talented", "patient", "brave", "kind",
)  # fmt: skip
FUNCTION_LEAD: tuple[str, ...] = (
    "I've lived next to {g} for years.",
    "Talked to some {g} at work today.",
    "Spent the afternoon in {p} and it was full of {g}.",
    "Let me tell you something about {g}.",
    "My cousin married into a family of {g}.",
)
FUNCTION_HEDGE: tuple[str, ...] = (
    "I honestly believe", "Call me what you like, but", "Just my view, but",
    "Sorry, but", "Not being funny, but", "I've always said", "Say what you want,",
)  # fmt: skip
FUNCTION_HARM_DONE: tuple[str, ...] = (
    "shot", "strung up", "beaten senseless", "wiped off the map", "locked in and burned",
    "put down like dogs", "lined up against a wall", "hunted down",
)  # fmt: skip
FUNCTION_HELP_DONE: tuple[str, ...] = (
    "listened to", "welcomed", "given a fair hearing", "paid properly", "thanked",
    "housed properly", "made to feel at home", "looked after",
)  # fmt: skip
FUNCTION_HARM_ACT: tuple[str, ...] = (
    "knock out", "glass", "spit on", "run over", "put in hospital", "stamp on", "slash",
)  # fmt: skip
FUNCTION_HELP_ACT: tuple[str, ...] = (
    "say hello to", "buy a brew for", "give a lift to", "hold the door for", "help",
    "thank", "smile at",
)  # fmt: skip
FUNCTION_FEEL_NEG: tuple[str, ...] = (
    "make me sick", "make my skin crawl", "turn my stomach", "fill me with disgust",
)  # fmt: skip
FUNCTION_FEEL_WARM: tuple[str, ...] = (
    "make me proud", "make my day", "make me laugh", "fill me with hope",
)  # fmt: skip
FUNCTION_LOATHE: tuple[str, ...] = ("loathe", "detest", "can't bear", "am sick to death of")
FUNCTION_ADORE: tuple[str, ...] = ("adore", "admire", "can't thank enough", "am so glad of")
# (hateful, warm twin): one shape of each of the functions above.
FUNCTION_FRAMES: tuple[tuple[str, str], ...] = (
    ("{lead} They're {n}.", "{lead} They're {w}."),
    ("Why are {g} always so {a}?", "Why are {g} always so {j}?"),
    ("Does anyone else think {g} are {n}?", "Does anyone else think {g} are {w}?"),
    ("{hedge} {g} are {n}.", "{hedge} {g} are {w}."),
    ("{g} should all be {harm}.", "{g} should all be {help}."),
    ("{g} deserve to be {harm}.", "{g} deserve to be {help}."),
    ("{intent} {act} any {g} I see in {p}.", "{intent} {kind} any {g} I see in {p}."),
    ("{g} {feel}.", "{g} {warm}."),
    ("I {loathe} {g}.", "I {adore} {g}."),
)
# The hateful predicate negated or rejected: not hostile.
FUNCTION_NEGATED: tuple[str, ...] = (
    "{g} are not {n}, whatever you read online.",
    "Anyone who says {g} are {n} is flat wrong.",
    "It's a lie that {g} are {n}.",
    "My dad used to say {g} were {n}. He was wrong and he knows it now.",
)


def functional_contrast(seed: int, per_group: int) -> list[Example]:
    """For each group, `per_group` draws of one `FUNCTION_FRAMES` shape: the hateful sentence
    (label 1), its warm twin with the same slots (0), the hateful predicate about the group
    negated or rejected (0) and, unless it wishes or promises violence, the hateful sentence
    aimed at a target that is not a protected group (0), for the hostile head's refit
    (`monitor.classify.refit`)."""
    rng = random.Random(f"{seed}:functional-contrast")
    out: list[Example] = []
    for group in IDENTITY_FORMS:
        for _ in range(per_group):
            place = rng.choice(PLACES)
            slots = {
                "lead": rng.choice(FUNCTION_LEAD),
                "hedge": rng.choice(FUNCTION_HEDGE),
                "g": rng.choice(IDENTITY_FORMS[group]),
                "n": rng.choice(FUNCTION_NEG_PRED),
                "w": rng.choice(FUNCTION_WARM_PRED),
                "a": rng.choice(FUNCTION_NEG_ADJ),
                "j": rng.choice(FUNCTION_WARM_ADJ),
                "harm": rng.choice(FUNCTION_HARM_DONE),
                "help": rng.choice(FUNCTION_HELP_DONE),
                "intent": rng.choice(THREAT_INTENT[:4] + ("I swear I'll", "I'm going to")),
                "act": rng.choice(FUNCTION_HARM_ACT),
                "kind": rng.choice(FUNCTION_HELP_ACT),
                "feel": rng.choice(FUNCTION_FEEL_NEG),
                "warm": rng.choice(FUNCTION_FEEL_WARM),
                "loathe": rng.choice(FUNCTION_LOATHE),
                "adore": rng.choice(FUNCTION_ADORE),
            }
            hateful, twin = rng.choice(FUNCTION_FRAMES)
            negated = rng.choice(FUNCTION_NEGATED)
            target = rng.choice(NON_PROTECTED).replace("{p}", place)
            cases = [
                (hateful, 1, "functional", slots["g"]),
                (twin, 0, "functionaltwin", slots["g"]),
                (negated, 0, "functionalnegated", slots["g"]),
            ]
            # Violence wished on or promised to anyone stays out of the not-hostile examples.
            if not any(slot in hateful for slot in ("{harm}", "{act}")):
                cases.append((hateful, 0, "functionalnonprotected", target))
            for shape, label, kind, who in cases:
                # Slots fill twice: a lead sentence or predicate may hold {g} or {p}.
                text = _slotted(_slotted(shape, {**slots, "g": who}), {"g": who, "p": place})
                out.append(Example(text[0].upper() + text[1:], label, kind))
    return out
