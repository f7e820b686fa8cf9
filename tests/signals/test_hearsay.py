"""Hearsay cues: a claim passed on second-hand, or asked about, against everyday talk."""

from __future__ import annotations

import pytest

from monitor.signals.hearsay import hearsay


@pytest.mark.parametrize(
    "text",
    [
        "Apparently the old mill on Toller Lane is being turned into housing",
        "I've been told the empty mill by Girlington is being done up",
        "I\u2019ve heard... the big derelict mill has been bought by the council",
        "Just been told the school is shutting",
        "Word is the depot is becoming a hostel",
        "Rumour has it the baths are closing",
        "They're saying the water is contaminated",
        "Everyone's saying the police covered it up",
        "Is it true that the tap water in Toller is unsafe?",
        "Can anyone confirm whether that mill is getting turned into a hostel?",
        "My mate's mum at the council reckons the mill is going to house asylum seekers",
        "My cousin who works at the council says the flats are going to refugees",
        "Nobody's talking about this: the mill has been bought by the council",
        "Nobody is talking about this: the water round Toller has got sewage in it",
        "No one is talking about it but the depot is becoming a hostel",
        "Police CONFIRMED he was from the asylum hotel. Why is nobody talking about this",
        "Anyone know if the water is actually safe? Hearing all sorts.",
    ],
)
def test_hearsay_cues_are_recognised(text: str) -> None:
    assert hearsay(text)


@pytest.mark.parametrize(
    "text",
    [
        "Anyone know a good plumber round Toller? Boiler's packed in.",
        "Does anyone know why the chippy in Heaton is shut today?",
        "Anyone know if Keighley market is open on Friday?",
        "Snow in Manningham! Kids are going mad for it.",
        "My cousin is visiting from Leeds this weekend.",
        "Heard the cheer from the ground all the way home",
        "Told the kids to wrap up warm.",
        "Nobody is talking about the match, too depressing.",
    ],
)
def test_everyday_talk_is_not_hearsay(text: str) -> None:
    assert not hearsay(text)
