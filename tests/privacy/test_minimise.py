"""Minimisation: what points at a person or a home is masked; what theme-and-trend monitoring
needs (words, hashtags, ordinary links, street and district names) is kept."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.ingest.core import Ingestor
from monitor.privacy.allowlist import PublicAccount, PublicAccounts
from monitor.privacy.minimise import (
    EMAIL_MASK,
    HOUSE_MASK,
    MENTION_MASK,
    PHONE_MASK,
    POSTCODE_MASK,
    PROFILE_MASK,
    mask_text,
)
from monitor.privacy.postids import PostIds
from monitor.types import RawPost

IDS = PostIds(b"i" * 32)  # fictional post id key


@pytest.mark.parametrize(
    "number",
    [
        "07700 900123",
        "07700900123",
        "+44 7700 900123",
        "+447700900123",
        "0044 7700 900123",
        "0113 496 0000",
        "(0113) 496 0000",
        "01274 123456",
        "020 7946 0000",
        "+44 (0)20 7946 0000",
        "0113-496-0000",
    ],
)
def test_uk_phone_numbers_are_masked(number: str) -> None:
    assert mask_text(f"ring {number} tonight") == f"ring {PHONE_MASK} tonight"


@pytest.mark.parametrize(
    "text",
    [
        "call 999 or 101 if you see anything",
        "meet at 07:30 on 02/11/2026",
        "it cost £1,000,000 and 2026 was worse",
        "Childline 0800 1111",
        "+1 212 555 0100 is a New York number",
        "ref 12345678901 is not a phone number",
    ],
)
def test_things_that_are_not_uk_phone_numbers_are_kept(text: str) -> None:
    assert mask_text(text) == text


def test_emails_and_every_kind_of_mention_are_masked() -> None:
    text = "mail jo.bloggs+x@example.co.uk or @alice, @bob.bsky.social, @carol@social.example."
    assert mask_text(text) == (
        f"mail {EMAIL_MASK} or {MENTION_MASK}, {MENTION_MASK}, {MENTION_MASK}."
    )


def test_allowlisted_handles_stay_in_the_clear() -> None:
    assert mask_text("thanks @BradfordCouncil and @someone", {"bradfordcouncil"}) == (
        f"thanks @BradfordCouncil and {MENTION_MASK}"
    )


def test_house_numbers_and_unit_postcodes_go_but_the_street_and_district_stay() -> None:
    text = "Trouble at 12 Manningham Lane, BD8 7QA and 4a oak road and 20 Park View"
    assert mask_text(text) == (
        f"Trouble at {HOUSE_MASK} Manningham Lane, BD8 {POSTCODE_MASK} and "
        f"{HOUSE_MASK} oak road and {HOUSE_MASK} Park View"
    )


@pytest.mark.parametrize(
    "text",
    [
        "3 lads down the road",
        "10 people walk to the park",
        "50 police vans on Leeds Road",
        "5 minutes from Fern Street",
        "at 2pm on Saturday",
    ],
)
def test_counts_of_things_near_streets_are_not_house_numbers(text: str) -> None:
    assert mask_text(text) == text


def test_profile_links_are_masked_but_ordinary_links_and_hashtags_kept() -> None:
    text = (
        "see https://social.example/@fictional_heron/123 and "
        "https://bsky.app/profile/alice.bsky.social and "
        "https://news.example/2026/11/07700900123 #MakeSureItAddsUp"
    )
    assert mask_text(text) == (
        f"see {PROFILE_MASK} and {PROFILE_MASK} and "
        "https://news.example/2026/11/07700900123 #MakeSureItAddsUp"
    )


NOW = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)


def test_ingest_masks_text_names_only_allowlisted_accounts(settings: object) -> None:
    from pathlib import Path

    from monitor.config import Settings

    assert isinstance(settings, Settings)
    ingestor = Ingestor.from_settings(settings, Path(settings.home))
    ingestor.public_accounts = PublicAccounts(
        (PublicAccount("bluesky", "did:plc:fictional-bradford-council", "Council", "council"),)
    )
    key = b"k" * 32
    private = ingestor.ingest(
        RawPost(
            platform="bluesky",
            native_id="at://did:plc:fictionalperson/app.bsky.feed.post/1",
            text="Ring 07700 900123 about the fight at 12 Manningham Lane @neighbour",
            created_at=NOW,
            author_id="did:plc:fictionalperson",
        ),
        key,
        NOW,
        ids=IDS,
    )
    assert private.text == (
        f"Ring {PHONE_MASK} about the fight at {HOUSE_MASK} Manningham Lane {MENTION_MASK}"
    )
    assert private.author_name is None
    assert "Manningham" in {m.ward for m in private.places}
    council = ingestor.ingest(
        RawPost(
            platform="bluesky",
            native_id="at://did:plc:fictional-bradford-council/app.bsky.feed.post/2",
            text="Please do not attend. #MakeSureItAddsUp",
            created_at=NOW,
            author_id="did:plc:fictional-bradford-council",
        ),
        key,
        NOW,
        ids=IDS,
    )
    assert council.author_name == "Council"
    assert council.author_ref != "did:plc:fictional-bradford-council"
