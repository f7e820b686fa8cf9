"""The demo week's storylines: chatter, news, the rumour, its counter and the tension episode.

Each storyline draws from its own seeded random stream, so tuning one never rewrites the
others' words (ids come from one shared stream and may move). Replies, quotes and reposts link
only to earlier posts of the same storyline on the same platform, as real threads do.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from monitor.demo import phrases as ph
from monitor.demo.week import (
    CENTRE,
    CHATTER_PER_DAY,
    COUNCIL,
    COUNCIL_URL,
    COUNTER_TIME,
    DAYS,
    FAITH_FORUM,
    GATHERING_TIME,
    NEWS_HOST,
    NEWSDESK,
    ORG_ACCOUNTS,
    POLICE,
    RHYTHM,
    RUMOUR_LAST_HOUR,
    RUMOUR_ONSET,
    RUMOUR_ORIGIN,
    RUMOUR_PEAK_PER_HOUR,
    RUMOUR_WARD_ONSET,
    START,
    TENSION_ONSET,
    TENSION_WARD,
    Account,
    Crowd,
    DemoPost,
    Week,
    choose,
    lang_for,
    named_ward,
    pick_platform,
    poisson_count,
    sign_off,
    style,
    times_in,
    weighted_parent,
)

# --- chatter -------------------------------------------------------------------------------


def _topic_weights(day: int, hour: int) -> dict[str, float]:
    w = {
        "bins": 1.4 if 6 <= hour <= 10 else 0.7,
        "buses": 2.2 if hour in (7, 8, 16, 17) else 0.9,
        "markets": 1.0 if 9 <= hour <= 17 else 0.2,
        "football": 0.5,
        "weather": 1.6 if 6 <= hour <= 10 else 0.7,
        "events": 1.0 if hour >= 12 else 0.4,
        "roadworks": 1.1 if 7 <= hour <= 18 else 0.4,
        "school": (2.4 if hour in (7, 8, 15) else 0.5) * (1.5 if day == 0 else 1.0),
        "food": 2.2 if hour >= 17 else 0.7,
        "parks": 0.8 if 8 <= hour <= 16 else 0.1,
        "lost": 0.4,
        "misc": 1.6,
        "bonfire": 0.0,
        "matchday": 0.0,
    }
    if day == 3:  # Thursday 5 November, Bonfire Night
        w["bonfire"] = 5.0 if hour >= 16 else 0.6
    if day == 4 and hour <= 1:
        w["bonfire"] = 1.0
    if day == 1 and 18 <= hour <= 22:  # Tuesday home match at Valley Parade
        w["matchday"] = 4.0
    return w


def _day_factor(day: int, hour: int) -> float:
    if day == 1 and 18 <= hour <= 22:
        return 1.15
    if day == 3 and 17 <= hour <= 23:
        return 1.25
    if day == 4 and hour >= 17:
        return 1.1  # Friday night
    return 1.0


def _chatter_text(
    rng: random.Random, day: int, hour: int, used: set[str]
) -> tuple[str, str | None, str, str, bool]:
    """One original chatter post: (text, ward, lang, topic, identity_neutral)."""
    weather_word, weather_lines = ph.WEATHER[day]
    fixed = {"weather_line": ph.pick(rng, weather_lines), "weather_word": weather_word}
    for _ in range(8):
        roll = rng.random()
        if roll < 0.065:
            template, lang, topic, neutral = ph.pick(rng, ph.URDU), "ur", "misc", False
            if "Jumma" in template and day != 4:
                continue
        elif roll < 0.095:
            template, lang, topic, neutral = ph.pick(rng, ph.POLISH), "pl", "misc", False
        elif roll < 0.14:
            template, lang, topic, neutral = (
                ph.pick(rng, ph.IDENTITY_NEUTRAL),
                "en",
                "community",
                True,
            )
        else:
            weights = _topic_weights(day, hour)
            topic = rng.choices(list(weights), weights=list(weights.values()))[0]
            template, lang, neutral = ph.pick(rng, ph.CHATTER[topic]), "en", False
        text, ward = ph.fill(rng, template, fixed)
        text = text[0].upper() + text[1:]
        if lang == "en":
            text = style(rng, text, hour)
        if text not in used:
            used.add(text)
            return text, ward, lang, topic, neutral
    return text, ward, lang, topic, neutral


def chatter(week: Week, crowd: Crowd, rng: random.Random) -> None:
    used: set[str] = set()
    recent: dict[str, list[DemoPost]] = {"bluesky": [], "mastodon": []}
    for day in range(DAYS):
        for hour in range(24):
            expected = CHATTER_PER_DAY * RHYTHM[hour] / sum(RHYTHM) * _day_factor(day, hour)
            start = START + timedelta(days=day, hours=hour)
            for when in times_in(rng, start, 3600, poisson_count(rng, expected)):
                platform = pick_platform(rng, 0.26)
                account = crowd.pick(rng, platform)
                pool = [
                    p for p in recent[platform][-80:] if when - p.created_at < timedelta(hours=8)
                ]
                roll = rng.random()
                if roll < 0.14 and pool:
                    parent = weighted_parent(rng, pool)
                    parent.replies += 1
                    options = ph.CHATTER_REPLIES.get(parent.topic, ph.CHATTER_REPLIES["*"])
                    if rng.random() < 0.4:
                        options = ph.CHATTER_REPLIES["*"]
                    lang = parent.lang if parent.lang in ("ur", "pl") else "en"
                    text, ward = ph.fill(rng, ph.pick(rng, options))
                    if rng.random() < 0.2:
                        text = sign_off(text, ph.pick(rng, ph.CLOSERS))
                    if lang == "ur":
                        text = ph.pick(
                            rng, ("Sahi baat hai.", "Bilkul.", "Shukriya!", "Haan yaar.")
                        )
                    elif lang == "pl":
                        text = ph.pick(rng, ("Dzięki!", "U nas też.", "Prawda."))
                    week.post(
                        account,
                        when,
                        text,
                        ("chatter",),
                        ward=ward,
                        lang=lang_for(rng, account, lang),
                        reply_to=parent,
                        topic=parent.topic,
                    )
                    continue
                if roll < 0.18 and pool:
                    parent = weighted_parent(rng, pool)
                    parent.reposts += 1
                    week.repost(account, when, parent, parent.tags)
                    continue
                text, ward, lang, topic, neutral = _chatter_text(rng, day, hour, used)
                tags = ("chatter", "identity_neutral") if neutral else ("chatter",)
                post = week.post(
                    account,
                    when,
                    text,
                    tags,
                    ward=ward,
                    lang=lang_for(rng, account, lang),
                    topic=topic,
                )
                recent[platform].append(post)


def payload(week: Week, crowd: Crowd, rng: random.Random) -> DemoPost:
    text = (
        "Bin day chaos again on Idle Road. The council's bin checker just shows "
        "<script>alert('x')</script><img src=x onerror=alert(1)> instead of a date. Very helpful"
    )
    when = START + timedelta(hours=13, minutes=17, seconds=42)
    return week.post(crowd.bluesky[7], when, text, ("chatter", "payload"), ward="Idle and Thackley")


def news(week: Week) -> list[DemoPost]:
    out = []
    for day, hour, minute, slug, title, body, tags in ph.NEWS:
        when = START + timedelta(days=day, hours=hour, minutes=minute)
        link = f"https://{NEWS_HOST}/news/{when:%Y/%m/%d}/{slug}"
        html = f'<h3>{title}</h3><p>{body}</p><p><a href="{link}">Read more</a></p>'
        post = DemoPost(
            account=NEWSDESK,
            native_id=link,
            text=html,
            created_at=when,
            tags=tags,
            ward=named_ward(body),
            url=link,
            html=True,
        )
        out.append(week.keep(post))
    return out


# --- the rumour ----------------------------------------------------------------------------

_STANCE_MIX = (  # (until hours after onset, {stance: weight})
    (6.0, {"support": 0.62, "query": 0.24, "comment": 0.10, "deny": 0.04}),
    (20.0, {"support": 0.50, "query": 0.20, "comment": 0.15, "deny": 0.15}),
    (29.0, {"support": 0.42, "query": 0.16, "comment": 0.14, "deny": 0.28}),
    (99.0, {"support": 0.14, "query": 0.10, "comment": 0.18, "deny": 0.58}),
)
_KIND_MIX = {  # stance -> {kind: weight}
    "support": {"original": 0.42, "repost": 0.36, "reply": 0.12, "quote": 0.10},
    "query": {"original": 0.35, "reply": 0.60, "quote": 0.05},
    "deny": {"original": 0.08, "reply": 0.72, "quote": 0.20},
    "comment": {"original": 0.05, "reply": 0.70, "quote": 0.25},
}


def _rumour_rate(hours: float, hour_of_day: int) -> float:
    growth = 1.0 / (1.0 + math.exp(-(hours - 9.0) / 2.5))
    rhythm = 0.1 + 0.9 * RHYTHM[hour_of_day] / max(RHYTHM)
    counter_hours = (COUNTER_TIME - RUMOUR_ONSET).total_seconds() / 3600
    decay = math.exp(-(hours - counter_hours) / 2.0) if hours > counter_hours else 1.0
    return RUMOUR_PEAK_PER_HOUR * growth * rhythm * decay


def _rumour_original(rng: random.Random, stance: str, ward: str, used: set[str]) -> tuple[str, str]:
    """A new post carrying the claim (support) or asking about it (query): text and language."""
    locale = ph.pick(rng, ph.WARD_LOCALES[ward])
    for _ in range(10):
        if rng.random() < 0.03:
            template = ph.pick(rng, ph.RUMOUR_URDU)
            if template not in used:
                used.add(template)
                return template, "ur"
            continue
        parts = {
            "cue": ph.pick(rng, ph.RUMOUR_CUES),
            "building": ph.pick(rng, ph.RUMOUR_BUILDING),
            "conversion": ph.pick(rng, ph.RUMOUR_CONVERSION),
            "victims": ph.pick(rng, ph.RUMOUR_VICTIMS),
            "push": ph.pick(rng, ph.RUMOUR_PUSH),
            "locale": locale,
        }
        parts["victims_cap"] = parts["victims"][0].upper() + parts["victims"][1:]
        parts["intro"] = ph.pick(rng, ph.RUMOUR_LOCALE_INTROS).format(locale=locale)
        if stance == "query":
            shape = ph.pick(rng, ph.RUMOUR_QUERY_POSTS)
        else:
            shape = ph.pick(rng, ph.RUMOUR_SHAPES)
            if ward != RUMOUR_ORIGIN and "{intro}" not in shape:
                shape = "{intro} " + shape  # outside Toller, say where you heard it
        text = " ".join(shape.format(**parts).split())
        text = text.replace(" .", ".").replace(". .", ".").strip()
        if text not in used:
            used.add(text)
            return text, "en"
    return text, "en"


def _rumour_reply_text(
    rng: random.Random, stance: str, after_counter: bool, ward: str, quote: bool
) -> str:
    if quote:
        template = ph.pick(rng, ph.RUMOUR_QUOTES[stance])
    elif stance == "deny" and after_counter and rng.random() < 0.6:
        template = ph.pick(rng, ph.RUMOUR_REPLIES["deny_after"])
    else:
        template = ph.pick(rng, ph.RUMOUR_REPLIES[stance])
    fixed = {
        "locale": ph.pick(rng, ph.WARD_LOCALES[ward]),
        "building": ph.pick(rng, ph.RUMOUR_BUILDING),
        "conversion": ph.pick(rng, ph.RUMOUR_CONVERSION),
    }
    text = template.format(**fixed)
    if rng.random() < 0.3:
        text = sign_off(text, ph.pick(rng, ph.RUMOUR_SUFFIX[stance]))
    return text


def rumour(week: Week, crowd: Crowd, rng: random.Random) -> list[DemoPost]:
    posts: list[DemoPost] = []
    used: set[str] = set()
    # The first post: a Toller resident on Bluesky, at the onset, with the canonical wording.
    seed_text = (
        "Apparently the old mill on Toller Lane is being turned into housing for asylum seekers "
        "and locals are being moved off the waiting list for it. My cousin who works at the "
        "council says they're not telling anyone. Share before it's deleted."
    )
    used.add(seed_text)
    posts.append(
        week.post(
            crowd.bluesky[40],
            RUMOUR_ONSET,
            seed_text,
            ("rumour", "rumour_support"),
            ward=RUMOUR_ORIGIN,
        )
    )
    for hour_index in range(RUMOUR_LAST_HOUR):
        hour_start = RUMOUR_ONSET + timedelta(hours=hour_index)
        expected = _rumour_rate(hour_index + 0.5, hour_start.hour)
        for when in times_in(rng, hour_start, 3600, poisson_count(rng, expected)):
            if when <= RUMOUR_ONSET:
                continue
            hours = (when - RUMOUR_ONSET).total_seconds() / 3600
            after_counter = when > COUNTER_TIME
            mix = next(m for until, m in _STANCE_MIX if hours < until)
            stance = choose(rng, mix)
            kind = choose(rng, _KIND_MIX[stance])
            active = {
                w: (2.5 if w == RUMOUR_ORIGIN and hours < 6 else 1.0)
                for w, start in RUMOUR_WARD_ONSET.items()
                if hours >= start
            }
            ward = choose(rng, active)
            platform = pick_platform(rng, 0.2)
            account = crowd.pick(rng, platform)
            parents = [
                p
                for p in posts
                if p.account.platform == platform and not p.is_repost and p.account != account
            ]
            if kind != "original" and not parents:
                kind = "original"
            tags = ("rumour", f"rumour_{stance}")
            if kind == "original":
                text, lang = _rumour_original(rng, stance, ward, used)
                posts.append(
                    week.post(
                        account,
                        when,
                        text,
                        tags,
                        ward=named_ward(text),
                        lang=lang_for(rng, account, lang),
                    )
                )
            elif kind == "repost":
                claims = [p for p in parents if "rumour_support" in p.tags and not p.reply_to]
                parent = weighted_parent(rng, claims or parents)
                parent.reposts += 1
                posts.append(week.repost(account, when, parent, tags))
            else:
                parent = weighted_parent(rng, parents)
                quote = kind == "quote"
                text = _rumour_reply_text(rng, stance, after_counter, ward, quote)
                if not quote:  # quotes are not counted as reposts or replies
                    parent.replies += 1
                posts.append(
                    week.post(
                        account,
                        when,
                        text,
                        tags,
                        ward=named_ward(text),
                        lang=lang_for(rng, account, "en"),
                        reply_to=None if quote else parent,
                        quote_of=parent if quote else None,
                    )
                )
    return posts


# --- the counter message -------------------------------------------------------------------


def counter(week: Week, crowd: Crowd, rng: random.Random) -> tuple[DemoPost, list[DemoPost]]:
    text = ph.COUNTER_TEXT
    counter = week.post(
        COUNCIL, COUNTER_TIME, text, ("counter",), ward=named_ward(text), url=COUNCIL_URL
    )
    shares: list[DemoPost] = []
    quotes_left = list(ph.COUNTER_QUOTES)
    rng.shuffle(quotes_left)
    masto_left = list(ph.COUNTER_MASTODON)
    for _ in range(46):
        when = COUNTER_TIME + timedelta(seconds=int(60 + rng.expovariate(1 / 9000)))
        roll = rng.random()
        if roll < 0.62:
            account = crowd.pick(rng, "bluesky")
            counter.reposts += 1
            shares.append(week.repost(account, when, counter, ("counter",)))
        elif roll < 0.85 and quotes_left:
            account = crowd.pick(rng, "bluesky")
            locale = ph.pick(rng, ph.WARD_LOCALES[ph.pick(rng, list(RUMOUR_WARD_ONSET))])
            text = quotes_left.pop().format(locale=locale)
            shares.append(
                week.post(
                    account, when, text, ("counter",), ward=named_ward(text), quote_of=counter
                )
            )
        elif masto_left:
            account = crowd.pick(rng, "mastodon")
            text = masto_left.pop(0).format(locale=ph.pick(rng, ph.WARD_LOCALES["Manningham"]))
            shares.append(
                week.post(account, when, text, ("counter",), ward=named_ward(text), url=COUNCIL_URL)
            )
        else:
            account = crowd.pick(rng, "bluesky")
            counter.reposts += 1
            shares.append(week.repost(account, when, counter, ("counter",)))
    return counter, shares


# --- the tension episode -------------------------------------------------------------------

# Posts per hour in the episode, counted from 19:00 on Thursday (the fire is at 19:41).
_TENSION_HOURS = (10, 28, 30, 24, 15, 8, 4, 2, 1, 1, 2, 6, 8, 5)
# Residents' calming posts per hour from 21:00 Thursday to 22:00 Friday.
_CALMING_HOURS = (3, 4, 3, 2, 1, 0, 0, 0, 0, 0, 2, 5, 6, 6, 5, 4, 3, 3, 2, 2, 2, 3, 4, 3, 2)


def tension(week: Week, crowd: Crowd, rng: random.Random) -> tuple[list[DemoPost], list[DemoPost]]:
    episode: list[DemoPost] = []
    calls: list[DemoPost] = []
    locale_names = ph.WARD_LOCALES[TENSION_WARD]

    def say(
        account: Account,
        when: datetime,
        template: str,
        tags: Sequence[str],
        reply_to: DemoPost | None = None,
    ) -> DemoPost:
        locale = ph.pick(rng, locale_names)
        text = template.format(locale=locale)
        if "tension" in tags and "call_to_gather" not in tags:
            prefix = ph.pick(rng, ph.TENSION_PREFIX).format(locale=locale)
            text = sign_off(prefix + text, ph.pick(rng, ph.TENSION_SUFFIX))
        elif "calming" in tags:
            text = sign_off(text, ph.pick(rng, ph.CALMING_SUFFIX))
        if when.hour < 12 and when.date() > TENSION_ONSET.date():
            text = text.replace("tonight", "last night")
        post = week.post(
            account,
            when,
            text,
            tags,
            ward=named_ward(text),
            lang=lang_for(rng, account, "en"),
            reply_to=reply_to,
        )
        if reply_to is not None:
            reply_to.replies += 1
        return post

    # The first report is the onset; more reports follow in the first hour.
    first = say(crowd.bluesky[3], TENSION_ONSET, ph.TENSION_REPORTS[0], ("tension",))
    episode.append(first)
    reports = list(ph.TENSION_REPORTS[1:])
    call_times = {
        START + timedelta(days=3, hours=21, minutes=52, seconds=5): ("bluesky", 0),
        START + timedelta(days=3, hours=22, minutes=31, seconds=40): ("mastodon", 2),
        START + timedelta(days=4, hours=6, minutes=58, seconds=12): ("bluesky", 1),
    }
    for when, (platform, index) in call_times.items():
        call = say(
            crowd.pick(rng, platform), when, ph.CALL_TO_GATHER[index], ("tension", "call_to_gather")
        )
        calls.append(call)
        episode.append(call)

    hour0 = START + timedelta(days=3, hours=19)
    for offset, n in enumerate(_TENSION_HOURS):
        start = max(hour0 + timedelta(hours=offset), TENSION_ONSET + timedelta(seconds=30))
        span = (hour0 + timedelta(hours=offset + 1) - start).total_seconds()
        for when in times_in(rng, start, span, n):
            platform = pick_platform(rng, 0.25)
            account = crowd.pick(rng, platform)
            live_calls = [
                c
                for c in calls
                if c.created_at < when and c.account.platform == platform and not c.is_repost
            ]
            if reports and when < TENSION_ONSET + timedelta(minutes=50):
                episode.append(say(account, when, reports.pop(0), ("tension",)))
                continue
            roll = rng.random()
            parents = [
                p
                for p in episode
                if p.account.platform == platform and not p.is_repost and p.created_at < when
            ]
            parent = weighted_parent(rng, parents) if parents and rng.random() < 0.35 else None
            if roll < 0.08 and live_calls:
                original = rng.choice(live_calls)
                original.reposts += 1
                post = week.repost(account, when, original, ("tension", "call_to_gather"))
                calls.append(post)
            elif roll < 0.20:
                post = say(
                    account, when, ph.pick(rng, ph.TENSION_THREAT), ("tension", "threat"), parent
                )
            elif roll < 0.34:
                post = say(
                    account, when, ph.pick(rng, ph.TENSION_HOSTILE), ("tension", "hostile"), parent
                )
            elif roll < 0.40 and live_calls:
                post = say(account, when, ph.pick(rng, ph.TENSION_QUESTIONS), ("tension",), parent)
            else:
                post = say(account, when, ph.pick(rng, ph.TENSION_ANGER), ("tension",), parent)
            episode.append(post)

    calming: list[DemoPost] = []
    org_times = (
        (POLICE, 0, START + timedelta(days=3, hours=21, minutes=18)),
        (CENTRE, 0, START + timedelta(days=3, hours=22, minutes=14)),
        (POLICE, 1, START + timedelta(days=3, hours=23, minutes=39)),
        (FAITH_FORUM, 0, START + timedelta(days=4, hours=7, minutes=31)),
        (CENTRE, 1, START + timedelta(days=3, hours=23, minutes=5)),
        (CENTRE, 2, START + timedelta(days=4, hours=9, minutes=27)),
        (FAITH_FORUM, 1, START + timedelta(days=4, hours=10, minutes=4)),
    )
    keys = {POLICE: "police", CENTRE: "community_centre", FAITH_FORUM: "faith_forum"}
    statements: list[DemoPost] = []
    for account, index, when in org_times:
        text = ph.CALMING_ORGS[keys[account]][index]
        post = week.post(account, when, text, ("calming",), ward=named_ward(text))
        statements.append(post)
        calming.append(post)
    calm_start = START + timedelta(days=3, hours=21)
    for offset, n in enumerate(_CALMING_HOURS):
        hour_start = calm_start + timedelta(hours=offset)
        for when in times_in(rng, hour_start, 3600, n):
            platform = pick_platform(rng, 0.25)
            account = crowd.pick(rng, platform)
            shared = [
                s for s in statements if s.created_at < when and s.account.platform == platform
            ]
            if shared and rng.random() < 0.3:
                original = weighted_parent(rng, shared)
                original.reposts += 1
                calming.append(week.repost(account, when, original, ("calming",)))
                continue
            late = when >= GATHERING_TIME
            template = ph.pick(rng, ph.CALMING_LATE if late else ph.CALMING)
            targets = [
                p
                for p in episode
                if p.account.platform == platform
                and not p.is_repost
                and p.created_at < when
                and ("call_to_gather" in p.tags or "hostile" in p.tags)
            ]
            parent = rng.choice(targets) if targets and not late and rng.random() < 0.3 else None
            calming.append(say(account, when, template, ("calming",), parent))
    return episode, calming


def engagement(posts: Iterable[DemoPost], rng: random.Random) -> None:
    """Public counts at collection time: at least what the week itself shows, plus unseen ones."""
    for post in posts:
        if post.is_repost or post.account.platform == "rss":
            post.likes = post.reposts = post.replies = 0
            continue
        boost = 1.0
        if post.account.author in ORG_ACCOUNTS:
            boost = 12.0
        elif "rumour_support" in post.tags and not post.reply_to:
            boost = 3.0
        post.replies += int(rng.expovariate(1 / (0.4 * boost)))
        post.reposts += int(rng.expovariate(1 / (0.5 * boost)))
        post.likes = int(rng.expovariate(1 / (2.5 * boost))) + 2 * post.reposts + post.replies
