"""Synthetic, clearly fictional training posts about the communities of Bradford and Kirklees.

Why: the public hate data (HatEval) is about immigrants and women and is full of posts that
mention a group in order to attack it, so a head trained on it alone learns "mentions refugees"
as "hostile". These templates add neutral, positive and counter-speech posts that mention each
group (labelled not hostile) beside hostile ones (labelled hostile), and rumour-passing posts
beside rebuttals.

These are TRAINING templates only. The bias test suite (tests/fixtures/bias/) uses different
sentences, written separately, so its figures measure how the heads generalise rather than
whether they memorised these lines. No real person's post is here; every post is made up.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# One or two surface forms per group named in the brief; plural nouns fit every template.
GROUPS: dict[str, tuple[str, ...]] = {
    "muslim": ("Muslims", "Muslim families"),
    "pakistani": ("Pakistanis", "Pakistani families"),
    "bangladeshi": ("Bangladeshis", "Bangladeshi families"),
    "indian": ("Indians", "Indian families"),
    "sikh": ("Sikhs", "Sikh families"),
    "hindu": ("Hindus", "Hindu families"),
    "jewish": ("Jews", "Jewish families"),
    "black": ("Black people", "Black families"),
    "roma": ("Roma people", "Roma families"),
    "eastern_european": ("Polish people", "Eastern Europeans"),
    "asylum_refugee": ("asylum seekers", "refugees"),
    "lgbt": ("gay people", "trans people"),
    "disabled": ("disabled people", "wheelchair users"),
}
PLACES: tuple[str, ...] = (
    "Bradford",
    "Keighley",
    "Shipley",
    "Bingley",
    "Huddersfield",
    "Dewsbury",
    "Batley",
    "Holmfirth",
    "Thornton",
    "Great Horton",
)

NEUTRAL: tuple[str, ...] = (
    "The council is meeting {group} in {place} next week to talk about bus routes.",
    "A survey of {group} in {place} found most people want better parking.",
    "{group} in {place} can get advice on energy bills at the library on Tuesday.",
    "Report on housing in {place} includes figures for {group}.",
    "Local radio will interview {group} from {place} about the new road layout.",
    "How many {group} live in {place}? The census numbers are out today.",
    "Meeting for {group} about school admissions in {place} moved to Thursday.",
    "The food bank in {place} helps everyone, {group} included.",
    "{group} in {place} were asked about the bin collection changes.",
    "New leaflet for {group} in {place} explains how to register to vote.",
)
POSITIVE: tuple[str, ...] = (
    "Proud of the {group} who organised the litter pick in {place} today.",
    "{group} have been part of {place} for generations and make it better.",
    "Lovely afternoon at the {place} community fair with {group} and neighbours.",
    "Thank you to the {group} who cooked for the homeless shelter in {place}.",
    "{group} are welcome in {place}. This is home for all of us.",
    "Great to see {group} and everyone else cheering the runners in {place}.",
    "Our street in {place} is better for having {group} on it.",
    "The youth club in {place}, run by {group}, just won an award.",
)
COUNTER: tuple[str, ...] = (
    "Someone shared a post saying {group} are taking over {place}. It's not true. "
    "Check before you share.",
    "The claim that {group} get houses before everyone else in {place} is false. "
    "The council has published the rules.",
    "Calling {group} vermin is vile. Report it, don't share it.",
    "No, {group} did not start the trouble in {place}. Police have said so. #MakeSureItAddsUp",
    "Saw a post blaming {group} for the crime in {place}. Racist rubbish, and the figures show it.",
    "If you're sharing 'send {group} back', have a word with yourself. They are our "
    "neighbours in {place}.",
    "That video about {group} in {place} is from another country years ago. Don't fall for it.",
    "People saying {group} are all criminals need to meet the ones running the food bank "
    "in {place}.",
)
HOSTILE: tuple[str, ...] = (
    "{group} are vermin and should be thrown out of {place}.",
    "Get {group} out of {place}, they are ruining everything.",
    "{group} are parasites living off our taxes.",
    "Sick of {group} taking over {place}, time to drive them out.",
    "{group} are all criminals, every last one of them.",
    "{group} should not be allowed to live in {place}.",
    "{group} are a disease on this country.",
    "Never trust {group}, they are liars and thieves.",
    "We need to clear {group} off the streets of {place} for good.",
    "{group} are not human like us and never will be.",
)
RUMOUR: tuple[str, ...] = (
    "Apparently {group} are being given new houses in {place} ahead of locals. Share before "
    "it gets deleted!",
    "Heard from a mate that {group} attacked a girl in {place} last night and police are "
    "covering it up.",
    "BREAKING: reports say the school in {place} is closing because of {group}. Pass it on.",
    "My cousin says the council is paying {group} to move into {place}. Spread the word.",
    "People are saying a gang of {group} is going round {place} tonight. Stay inside.",
    "Unconfirmed: a fire in {place} was started by {group}, the news won't tell you.",
)
RUMOUR_DENIAL: tuple[str, ...] = (
    "The story that {group} are being given houses in {place} ahead of locals is false. "
    "Council housing rules are public.",
    "Police say there was no attack in {place} last night. Please stop sharing that post "
    "about {group}.",
    "The school in {place} is not closing. The post about {group} is made up.",
    "Fact check: no, the council is not paying {group} to move to {place}.",
)


@dataclass(frozen=True, slots=True)
class SyntheticPost:
    text: str
    kind: str  # neutral | positive | counter | hostile | rumour | rumour_denial
    group: str

    @property
    def hostile(self) -> int:
        return 1 if self.kind == "hostile" else 0

    @property
    def rumour(self) -> int:
        return 1 if self.kind == "rumour" else 0


def _fill(template: str, group: str, place: str) -> str:
    text = template.format(group=group, place=place)
    return text[0].upper() + text[1:]


def training_posts(seed: int, per_template: int = 4) -> list[SyntheticPost]:
    """Fictional posts from the training templates: each template with `per_template`
    randomly drawn (group, surface form, place) fillings, drawn with `seed`."""
    rng = random.Random(seed)
    kinds = {
        "neutral": NEUTRAL,
        "positive": POSITIVE,
        "counter": COUNTER,
        "hostile": HOSTILE,
        "rumour": RUMOUR,
        "rumour_denial": RUMOUR_DENIAL,
    }
    out: list[SyntheticPost] = []
    keys = sorted(GROUPS)
    for kind, templates in kinds.items():
        for template in templates:
            for key in rng.sample(keys, per_template):
                form = rng.choice(GROUPS[key])
                out.append(SyntheticPost(_fill(template, form, rng.choice(PLACES)), kind, key))
    return out
