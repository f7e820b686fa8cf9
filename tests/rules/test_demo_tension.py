"""The shipped tension pack on the bundled demo week, scored post by post against its truth tags.

Positives are posts tagged tension, threat, hostile or call_to_gather; negatives are chatter,
calming, identity_neutral and counter posts (rumour posts are the rumour pack's business and
count as neither). Each post goes through the real ingest (so places are matched as in the
pipeline) and the keyword classifier's scores, then the tension pack's per-post rules.

Measured (`.venv/bin/python -m tests.rules.test_demo_tension`):
- pack 1.0.0: 3 of 150 positives flagged (recall 0.02), 0 false positives of 2,993 negatives;
- pack 1.1.0: 95 of 150 (recall 0.63), 0 false positives; by tag: threat 20/20, hostile 18/18,
  call_to_gather 13/13, tension-only posts 44/99 (plain anger with no incident or place named,
  "this is the third thing this year" and similar are still missed);
- pack 1.2.0 (two rules for threats made indirectly: ultimatums, bounties, weapons named with a
  meeting, a bullet wished on someone, petrol beside an address): the same 95 of 150 and 0 false
  positives (the demo's threats were all found already).
The bounds below leave a little room under those figures; a change that loses recall or starts
flagging calming posts fails here with the posts concerned.

The demo is one test of the rules, and its chatter is tidy. So the pack is also tried on posts
written apart from the rules' own examples (all fictional): other incidents, and the everyday
talk that shares their words. On first try 15 of 16 probes were found and 2 of 32 everyday posts
(both football) were flagged; the rules were widened and the football kept out.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from monitor.classify.keyword import keyword_scores
from monitor.config import Settings
from monitor.ingest.core import Ingestor
from monitor.ingest.replay import ImportProblem, iter_records
from monitor.privacy.postids import PostIds
from monitor.rules.engine import RuleSet, evaluate_post
from monitor.rules.loader import load_ruleset
from tests.rules.conftest import post

pytestmark = pytest.mark.slow  # the demo week run through the rules
IDS = PostIds(b"i" * 32)  # fictional post id key


ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "monitor" / "data" / "demo" / "bradford-scenario.jsonl"
TRUTH = DEMO.with_suffix(".truth.json")
POSITIVE = frozenset({"tension", "threat", "hostile", "call_to_gather"})
NEGATIVE = frozenset({"chatter", "calming", "identity_neutral", "counter"})

MIN_RECALL = 0.60  # measured 0.63
MAX_FALSE_POSITIVES = 3  # measured 0 of 2,993 negatives
MIN_RECALL_BY_TAG = {"threat": 0.9, "call_to_gather": 0.9, "hostile": 0.8}  # measured 1.0 each


@dataclass
class Tally:
    tp: int = 0
    fn: int = 0
    fp: int = 0
    tn: int = 0
    by_tag: Counter[str] = field(default_factory=Counter)  # positives flagged, per tag
    of_tag: Counter[str] = field(default_factory=Counter)  # positives, per tag
    false_positives: list[tuple[str, str, list[str]]] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.tp / max(1, self.tp + self.fn)

    @property
    def precision(self) -> float:
        return self.tp / max(1, self.tp + self.fp)


def measure(rules_dir: Path = ROOT / "rules") -> Tally:
    ruleset = load_ruleset(rules_dir, only=("tension",), today=dt.date(2026, 1, 1))
    ingestor = Ingestor.from_settings(Settings(home=str(ROOT)), ROOT)
    # The truth file names posts by platform id; the ingestor stores them keyed.
    raw = json.loads(TRUTH.read_text(encoding="utf-8"))["posts"]
    truth = {IDS.key(pid): info for pid, info in raw.items()}
    now = dt.datetime(2026, 11, 8, tzinfo=dt.UTC)
    tally = Tally()
    for _, record in iter_records(DEMO):
        assert not isinstance(record, ImportProblem), record
        post = ingestor.ingest(record, b"k" * 32, now, ids=IDS)
        tags = set(truth[post.id]["tags"])
        hits = [h.rule_id for h in evaluate_post(ruleset, post, keyword_scores(post.text)).hits]
        if tags & POSITIVE:
            tally.of_tag.update(tags & POSITIVE)
            if hits:
                tally.tp += 1
                tally.by_tag.update(tags & POSITIVE)
            else:
                tally.fn += 1
                tally.missed.append(post.text)
        elif tags & NEGATIVE:
            if hits:
                tally.fp += 1
                tally.false_positives.append((",".join(sorted(tags)), post.text, hits))
            else:
                tally.tn += 1
    return tally


@pytest.fixture(scope="module")
def tally() -> Tally:
    if not DEMO.is_file() or not TRUTH.is_file():
        pytest.skip(f"no demo scenario at {DEMO}")
    return measure()


def test_the_pack_finds_most_of_the_tension_episode(tally: Tally) -> None:
    assert tally.recall >= MIN_RECALL, (
        f"recall {tally.recall:.2f} ({tally.tp}/{tally.tp + tally.fn}); missed e.g.:\n"
        + "\n".join(tally.missed[:20])
    )


@pytest.mark.parametrize("tag", sorted(MIN_RECALL_BY_TAG))
def test_threats_gatherings_and_hostility_are_nearly_all_found(tally: Tally, tag: str) -> None:
    found, total = tally.by_tag[tag], tally.of_tag[tag]
    assert total and found / total >= MIN_RECALL_BY_TAG[tag], f"{tag}: {found}/{total}"


def test_chatter_calming_and_counter_speech_are_left_alone(tally: Tally) -> None:
    assert tally.fp <= MAX_FALSE_POSITIVES, "\n".join(map(str, tally.false_positives))
    assert not [f for f in tally.false_positives if "calming" in f[0] or "counter" in f[0]]


PROBES = [
    "Absolutely livid. Lad stabbed outside the Millbeck takeaway and the police are nowhere",
    "Windows smashed at the Eastbrook gurdwara overnight. Disgusting, the whole community is "
    "furious",
    "Police won't do anything, so the lads will. That's how it works round here now",
    "Half of Fern Street is out looking for whoever did it",
    "We all know who's behind it. Same lot every time",
    "They don't belong round here and after tonight everyone knows it",
    "Eastbrook was peaceful before they moved in",
    "Whoever torched that van better watch their back",
    "Everyone get down to the Greyfield at 8 tonight, time to sort this once and for all",
    "Heard there's something planned outside the Millbeck mosque Saturday",
    "Time to take matters into our own hands in Millbeck",
    "Attack on the Fern Street shop was deliberate, someone did that on purpose",
    "Nobody hurts one of ours and walks away. Nobody.",
    "Raging. Someone set fire to the Eastbrook youth club minibus",
    "Send them all back after this",
    "It wasn't anyone local who did this, everyone knows that",
]

EVERYDAY = [
    # bonfire night and fireworks
    "Bonfire night at Kettlewell Park was brilliant, the fire was massive and the kids loved it",
    "Fuming. Fireworks every night this week on Fern Street and the dog won't stop shaking",
    "Someone set off rockets at 3am on Marsh Lane. Absolutely raging, the baby was up all night",
    "Guy Fawkes tonight! Meet at the Millbeck Arms at 6pm, sparklers for the kids",
    "Whoever did the fireworks display at Eastbrook park, absolutely stunning, thank you",
    # football
    "Raging with that ref. Penalty in the 90th minute, Millbeck robbed again",
    "Eye for an eye on Saturday lads, they beat us 4-0 last time, revenge is due",
    "Everyone meet at the Fern Street Tavern at 1pm tomorrow, time to sort this derby out",
    "Same lot every time in the back four, manager has to go",
    # bins, the council, everyday sorting out
    "Fuming with the council. Bins not collected for three weeks on Marsh Lane, disgrace",
    "Right, this weekend we sort out the bins and the garden, wish me luck",
    "Someone needs to sort out the bins behind the Eastbrook parade, they're overflowing",
    "Whole street is raging about the new parking scheme in Millbeck",
    "Council tax up again, enough is enough, vote them out in May",
    "Car set alight on Hollins Road was an electrical fault, the owner says. Gutted for him",
    # appeals for calm
    "I know people are angry after the fire at the centre. Please stay calm and let the police "
    "do their job.",
    "Please don't share rumours about who did it. If you know anything call 101.",
    "We are aware of reports of a fire on Fern Street. Please do not speculate; officers are on "
    "scene.",
    "The Millbeck gathering has been called off. Please stay home tonight and look after each "
    "other.",
    "Faith leaders in Eastbrook: nobody gathers in our name. Stay calm and stay safe.",
    "Whoever did this wants us fighting each other. Don't let them. Love to all our neighbours.",
    # lawful protest
    "Protest against the library closure at the town hall, Saturday 11am, enough is enough",
    "Strike at the hospital tomorrow 7am, picket line at the main gate, bring your mates",
    "March for the climate Friday, meet at the market at 10am, make some noise",
    # counter-speech
    "Saw someone post that these people don't belong here. That's not who we are in Millbeck.",
    "Stop blaming refugees for the fire, nobody knows who did it yet",
    "People saying send them back after the fire: no place for hate in Eastbrook.",
    "Blaming outsiders for everything is lazy. The centre's volunteers come from every background",
    # ordinary local talk
    "Lads are out looking for the lost cat on Fern Street, black with a white paw",
    "Anyone know what happened on Marsh Lane tonight? Loads of blue lights",
    "My kids go to that youth club, it's brilliant, the staff are lovely",
    "Fire crews at a kitchen fire on Hollins Road, nobody hurt thankfully",
]


@functools.cache
def _tension_pack() -> RuleSet:
    return load_ruleset(ROOT / "rules", only=("tension",), today=dt.date(2026, 1, 1))


def _tension_hits(text: str, ward: str | None) -> list[str]:
    p = post(text, ward=ward)
    return [h.rule_id for h in evaluate_post(_tension_pack(), p, keyword_scores(text)).hits]


@pytest.mark.parametrize("text", PROBES)
def test_other_incidents_talk_is_found(text: str) -> None:
    assert _tension_hits(text, "Eastbrook"), text


@pytest.mark.parametrize("ward", [None, "Eastbrook"])
def test_everyday_talk_with_the_same_words_is_not_flagged(ward: str | None) -> None:
    flagged = {t: h for t in EVERYDAY if (h := _tension_hits(t, ward))}
    assert not flagged, flagged


if __name__ == "__main__":
    t = measure()
    print(f"positives flagged {t.tp}/{t.tp + t.fn}  recall {t.recall:.3f}")
    print(f"negatives flagged {t.fp}/{t.fp + t.tn}  precision {t.precision:.3f}")
    for tag in sorted(t.of_tag):
        print(f"  {tag:15} {t.by_tag[tag]}/{t.of_tag[tag]}")
