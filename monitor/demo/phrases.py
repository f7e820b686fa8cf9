"""Words for the demo scenario: places, slot values and text templates, all fictional.

Templates are filled slot by slot (`{hood}`, `{bus}` ...) so that thousands of posts read as
written by different people rather than copy-pasted. Place slots carry the ward they lie in, so
the generator can record where each post speaks from in the ground truth. Wards are left out
(None) where a name spans several wards or where the boundary is not certain: the truth must
never claim more than is known.
"""

from __future__ import annotations

import random
import string
from collections.abc import Mapping, Sequence

Place = tuple[str, str | None]  # (name as written in posts, ward it lies in or None)

# --- places -------------------------------------------------------------------------------

PLACES: dict[str, tuple[Place, ...]] = {
    # neighbourhoods and wards as people write them
    "hood": (
        ("Manningham", "Manningham"),
        ("Heaton", "Heaton"),
        ("Toller", "Toller"),
        ("Girlington", "Toller"),
        ("Bradford Moor", "Bradford Moor"),
        ("Little Horton", "Little Horton"),
        ("West Bowling", "Little Horton"),
        ("Bowling", None),
        ("Barkerend", "Bowling and Barkerend"),
        ("Eccleshill", "Eccleshill"),
        ("Idle", "Idle and Thackley"),
        ("Thackley", "Idle and Thackley"),
        ("Shipley", "Shipley"),
        ("Saltaire", "Shipley"),
        ("Wibsey", "Wibsey"),
        ("Great Horton", "Great Horton"),
        ("Lidget Green", None),
        ("Frizinghall", "Heaton"),
        ("Holme Wood", "Tong"),
        ("Laisterdyke", None),
        ("Undercliffe", "Bolton and Undercliffe"),
        ("Allerton", "Thornton and Allerton"),
        ("Thornton", "Thornton and Allerton"),
        ("Queensbury", "Queensbury"),
        ("Clayton", "Clayton and Fairweather Green"),
        ("Wyke", "Wyke"),
        ("Baildon", "Baildon"),
        ("Bingley", "Bingley"),
        ("Ilkley", "Ilkley"),
        ("Keighley", None),
        ("Wrose", "Windhill and Wrose"),
        ("Odsal", None),
    ),
    "landmark": (
        ("City Park", "City"),
        ("Forster Square", "City"),
        ("Centenary Square", "City"),
        ("City Hall", "City"),
        ("the Interchange", "City"),
        ("Darley Street Market", "City"),
        ("Kirkgate Market", "City"),
        ("the Alhambra", "City"),
        ("St George's Hall", "City"),
        ("the Media Museum", "City"),
        ("Lister Park", "Manningham"),
        ("Cartwright Hall", "Manningham"),
        ("Valley Parade", "Manningham"),
        ("Peel Park", "Bolton and Undercliffe"),
        ("Roberts Park", "Shipley"),
        ("Salts Mill", "Shipley"),
        ("Bowling Park", None),
        ("Keighley bus station", "Keighley Central"),
        ("Cliffe Castle", None),
        ("Ilkley Moor", None),
    ),
    "road": (
        ("Manningham Lane", "Manningham"),
        ("Oak Lane", "Manningham"),
        ("Lumb Lane", "Manningham"),
        ("Toller Lane", "Toller"),
        ("Little Horton Lane", "Little Horton"),
        ("Leeds Road", None),
        ("Thornton Road", None),
        ("Canal Road", None),
        ("Harrogate Road", None),
        ("Killinghall Road", None),
        ("Idle Road", None),
        ("Wakefield Road", None),
        ("Duckworth Lane", None),
        ("Great Horton Road", None),
        ("Keighley Road", None),
        ("Otley Road", None),
    ),
}
PLACES["place"] = PLACES["hood"] + PLACES["landmark"]

# Where rumour and tension posts say they speak from: only names that lie wholly in the ward.
WARD_LOCALES: dict[str, tuple[str, ...]] = {
    "Toller": ("Girlington", "Toller"),
    "Manningham": ("Manningham",),
    "Heaton": ("Heaton", "Frizinghall"),
    "City": ("City Park", "Forster Square", "Kirkgate Market"),
    "Bradford Moor": ("Bradford Moor",),
    "Little Horton": ("Little Horton", "West Bowling"),
}

# --- plain slots ------------------------------------------------------------------------------

SLOTS: dict[str, tuple[str, ...]] = {
    "bus": ("576", "680", "607", "662", "640", "635", "72", "681", "615", "620", "508", "697"),
    "bin": ("grey bin", "green bin", "brown bin", "recycling", "garden waste bin", "bins"),
    "mins": ("20 minutes", "half an hour", "40 mins", "an hour", "25 minutes", "45 minutes"),
    "food": (
        "samosas",
        "chips and gravy",
        "a chicken karahi",
        "pakoras",
        "parkin",
        "a proper balti",
        "a fish finger butty",
        "jalebi",
        "a Yorkshire pudding wrap",
        "nihari",
        "a chip spice special",
        "pierogi",
        "seekh kebabs",
        "mushy peas",
    ),
    "thing": (
        "a black cat",
        "a set of keys",
        "a kid's scooter",
        "a brown dog",
        "a purse",
        "a grey parrot",
        "a wedding ring",
        "a school bag",
    ),
    "day": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "num": ("2", "3", "4", "5", "6", "10", "12", "15"),
    "money": ("£3", "£4.50", "£6", "£8", "£12", "£15", "£20"),
    "year": ("20", "30", "15", "40", "25"),
    "shop": (
        "the corner shop",
        "the Co-op",
        "the chippy",
        "the bakery",
        "the sweet centre",
        "the halal butcher",
        "the Polish deli",
        "the greengrocer",
        "the pharmacy",
        "the barber's",
    ),
    "event": (
        "a craft fair",
        "a quiz night",
        "a free film screening",
        "a brass band concert",
        "a poetry night",
        "a food festival",
        "a charity fun run",
        "a jobs fair",
        "a kids' science show",
        "a vintage market",
    ),
    "bonfire_site": (
        "Peel Park",
        "Lister Park",
        "Roberts Park",
        "the rugby club",
        "the school field",
    ),
    "venue": (
        "City Park",
        "St George's Hall",
        "the Alhambra",
        "the Media Museum",
        "Cartwright Hall",
        "Salts Mill",
        "the library",
        "the community hall",
    ),
}

# --- chatter ------------------------------------------------------------------------------

# Ordinary local talk. Some name a place, some don't; slot values give the variety.
CHATTER: dict[str, tuple[str, ...]] = {
    "bins": (
        "{bin} still not collected on {road}. Third week running.",
        "Bin men skipped our street in {hood} again. Anyone know who to ring?",
        "Is it {bin} or recycling this week? I've genuinely lost track.",
        "Foxes got into the {bin} overnight in {hood}, rubbish everywhere.",
        "Council app says {bin} day is {day}, lorry came today. Make it make sense.",
        "Fair play to the bin crew in {hood}, came back for the one they missed.",
        "Somebody's dumped a whole sofa next to the {bin}s on {road}.",
        "Reported fly-tipping near {hood} rec a week ago, still there.",
        "Why does the {bin} lorry always come at the exact moment I'm in the shower",
        "New bin collection calendar through the door, {bin} moved to {day}s.",
    ),
    "buses": (
        "The {bus} is {mins} late again. Standing at {landmark} freezing.",
        "Two {bus}s just came at once after nothing for {mins}. Classic.",
        "Does the {bus} still go through {hood} or has it been diverted?",
        "Bus driver on the {bus} waited for an old lady running for it. Made my morning.",
        "{bus} cancelled, no announcement, nothing. Thanks.",
        "Anyone know why buses are terminating early at {landmark}?",
        "Bus fare still {money} to get into town from {hood}? Used to be cheaper.",
        "Train from Forster Square to Leeds delayed {mins}. Every single day.",
        "Sat on the {bus} for {mins} behind roadworks on {road}.",
        "Heads up: {bus} not stopping on {road} today, stop's suspended.",
    ),
    "markets": (
        "Darley Street Market is buzzing today, got fruit and veg for {money}.",
        "Kirkgate Market fish stall had amazing mackerel this morning.",
        "Shipley market was dead today, shame, some lovely stalls.",
        "Anyone know if Keighley market is open on {day}?",
        "Picked up {food} from the market for lunch, absolutely spot on.",
        "The spice stall at Darley Street Market is a dangerous place for my wallet.",
        "Whoever runs the cheese stall at the market, you're a legend.",
        "Market traders in town deserve more footfall, go and support them.",
        "Got my winter coat from a stall at Kirkgate Market for {money}. Bargain.",
    ),
    "football": (
        "Up the City! Anyone going to Valley Parade this week?",
        "Season ticket renewal email landed. Do I, don't I.",
        "Kids football at {hood} rec cancelled again, pitch is a swamp.",
        "Five-a-side at {hood} sports centre tonight, need one more player.",
        "Valley Parade on a cold night is a proper experience, everyone should go once.",
        "My lad's under-10s won {num}-1 this morning, proud dad moment.",
        "Watching City away on the stream, the commentary is something else.",
    ),
    "weather": (
        "{weather_line}",
        "{weather_line} Typical Bradford.",
        "{weather_line} Stay safe out there.",
        "{weather_line} Ilkley Moor looks lovely from here though.",
        "Proper {weather_word} in {hood} this morning.",
        "Forecast says {weather_word} all day. Brilliant.",
    ),
    "events": (
        "{event} at {venue} this {day}, anyone going?",
        "Just booked tickets for the panto at the Alhambra. Oh yes I did.",
        "Really enjoyed {event} at {venue} last night, well organised.",
        "Christmas lights switch-on date out yet for City Park?",
        "Free entry to the Media Museum this week, kids loved it.",
        "Cartwright Hall exhibition is brilliant, go before it closes.",
        "Mirror pool at City Park all lit up tonight, gorgeous.",
        "Live music at {venue} on {day}, looks a good line-up.",
        "Saltaire looked stunning this afternoon, had a walk along the canal.",
    ),
    "roadworks": (
        "Roadworks on {road} again. They only finished digging it up in the summer.",
        "{road} down to one lane, queue back to {landmark}.",
        "Temporary lights on {road} are stuck on red, nobody moving.",
        "Pothole on {road} near {hood} just took out my hubcap.",
        "Diversion signs for {road} send you in a circle, just so you know.",
        "Gas works on {road} until the end of the month apparently.",
        "Resurfacing on {road} tonight, avoid if you can.",
    ),
    "school": (
        "First week back after half term and the school run on {road} is chaos.",
        "Parents' evening tonight. Wish me luck.",
        "School in {hood} asking for costumes for the winter show already.",
        "Kids came home with nits. First week back. Of course.",
        "Secondary school applications deadline soon, don't forget.",
        "School gates in {hood} this morning, half the parents parked on the zig-zags.",
        "Teacher at our school in {hood} runs a free breakfast club, what a star.",
        "Homework: build a model of a Victorian mill. At 9pm. Thanks.",
    ),
    "food": (
        "Best {food} in Bradford is in {hood} and I will not be taking questions.",
        "Craving {food}. Where's open late near {hood}?",
        "Tried the new place on {road}, had {food}. Unreal.",
        "Nothing beats {food} on a cold night.",
        "Sweet centre in {hood} had a queue out the door at teatime.",
        "Curry mile debate again at work. {hood} wins, obviously.",
        "Made {food} for tea tonight, the house smells amazing.",
        "Had {food} from the takeaway and it's so spicy it's killing me 🔥",
    ),
    "parks": (
        "Lister Park at sunrise, not a bad start to the day.",
        "Leaves everywhere in Peel Park, kids having a whale of a time.",
        "Dog walk round Bowling Park, so muddy.",
        "Roberts Park was packed this afternoon.",
        "Someone's been litter picking in {hood} park, thank you whoever you are.",
        "Boating lake at Lister Park looks gorgeous in the autumn.",
    ),
    "lost": (
        "Found {thing} near {landmark}. Message me if it's yours.",
        "Lost {thing} somewhere around {hood} yesterday. Please share.",
        "Anyone lost {thing}? Handed it in at {shop} on {road}.",
        "Still looking for {thing} lost near {landmark}, reward offered.",
    ),
    "misc": (
        "{shop} in {hood} has finally reopened, good to see.",
        "GP surgery in {hood}: rang at 8 on the dot, 30th in the queue.",
        "Energy bill went up again. How is anyone managing.",
        "Library in {hood} has started a repair café, fixed my lamp for free.",
        "Power cut in {hood}? Whole street's dark.",
        "Fire alarm test at work went on for {mins}. My ears.",
        "Pigeons at Forster Square launched a full attack on my sandwich.",
        "Water main burst on {road}, it's like a river.",
        "Anyone recommend a decent plumber around {hood}?",
        "Food bank at {hood} low on tins and nappies if anyone can help.",
        "Been in Bradford {year} years and still get lost in the one-way system.",
        "Got a parking ticket outside {shop} on {road}. Five minutes I was.",
        "Gym on {road} packed at 6am, where were you all in January",
        "Car boot at Odsal this {day}, anyone been?",
        "New mural in {hood} is brilliant, local kids helped paint it.",
        "Remembrance poppies on sale at {landmark} this week.",
    ),
    # Bonfire Night (Thursday 5 November): bangs and fires that are not incidents.
    "bonfire": (
        "Fireworks going off since 5pm in {hood}, the dog is under the bed.",
        "Bonfire at {bonfire_site} tonight, who's going?",
        "Sounds like a war zone in {hood} with all these fireworks.",
        "Sparklers and parkin in the garden, bonfire night sorted.",
        "Display at Peel Park was brilliant, the finale was massive.",
        "Please keep pets in tonight, fireworks everywhere round {hood}.",
        "Someone's set off rockets on {road}, nearly hit a bus.",
        "Smell of bonfire smoke all over {hood}. Love it.",
        "Bonfire night and my cat has declared war on the cat flap.",
        "Massive bang in {hood}, fireworks I hope!",
    ),
    # Bradford City at home on Tuesday evening.
    "matchday": (
        "Valley Parade tonight! Come on City!",
        "Queue for the turnstiles at Valley Parade is huge.",
        "What a goal!! Valley Parade bouncing.",
        "Traffic round Manningham Lane terrible, must be the match.",
        "City win! Great night at Valley Parade.",
        "Freezing at Valley Parade but worth it.",
        "Pie and bovril at half time, the tradition continues.",
    ),
}

# Replies under chatter: a few per topic, and generic ones for any topic.
CHATTER_REPLIES: dict[str, tuple[str, ...]] = {
    "bins": (
        "Same on our street.",
        "Ring the council, they're usually quick to send them back.",
        "Ours weren't done either in {hood}.",
        "It's recycling this week I think.",
    ),
    "buses": (
        "Same every morning.",
        "Mine was fine today, luck of the draw.",
        "There's a diversion on {road}, that's why.",
        "Get the app, it shows where they are.",
    ),
    "food": (
        "Agree 100%.",
        "Strong disagree, it's {hood}.",
        "Where is this?? Need it.",
        "Now I'm hungry, thanks.",
    ),
    "weather": ("It's grim.", "Same in {hood}.", "Coat weather for sure."),
    "bonfire": ("Our dog is the same, poor thing.", "Same here, non-stop.", "Enjoy it!"),
    "matchday": ("Up the City!", "What a night.", "Get in!"),
    "lost": ("Shared.", "Shared in the {hood} group.", "Hope you find it."),
    "*": (
        "Same here.",
        "Ha, knew it.",
        "Thanks for the heads up.",
        "No idea sorry.",
        "This is so Bradford.",
        "Good to know.",
        "Honestly.",
        "😂",
        "Every time.",
        "Fair point.",
        "Same in {hood}.",
        "Ha! Yes.",
        "Sorry, no idea.",
        "Ugh, same.",
        "Ours too.",
        "Good shout.",
        "Tell me about it.",
        "Never change, Bradford.",
        "Ha, story of my life.",
        "Cheers for this.",
    ),
}

OPENERS_MORNING = ("Morning all. ", "Morning! ")
OPENERS_EVENING = ("Evening all. ",)
OPENERS = ("PSA: ", "Right. ", "Ugh. ", "Quick one. ", "Update: ", "So. ", "Also: ")
CLOSERS = (
    "#Bradford",
    "🙄",
    "😂",
    "lol",
    "x",
    "!!",
    "#BradfordDistrict",
    "Cheers.",
    "👍",
    "Honestly.",
    "Rant over.",
)

# Day-specific weather (day index 0 = Monday 2 November).
WEATHER: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "drizzle",
        (
            "Drizzle all day. Not enough for a brolly, enough to ruin your hair.",
            "Grey and damp again, the first week of November doing what it does.",
            "That fine rain that soaks you through without you noticing.",
        ),
    ),
    (
        "frost",
        (
            "Frost on the car this morning, first proper scrape of the year.",
            "Cold but bright, lovely blue sky over town.",
            "Bitter out. Gloves on.",
        ),
    ),
    (
        "rain",
        (
            "Yellow weather warning for rain today, it's bucketing down.",
            "Canal Road is flooding again, avoid if you can.",
            "Torrential rain, gutters overflowing everywhere.",
            "Drains can't cope, road's a river outside.",
        ),
    ),
    (
        "cold",
        (
            "Clear and cold, perfect bonfire weather.",
            "Freezing fog first thing, cleared by lunch.",
            "Crisp and cold, at least it's dry for tonight.",
        ),
    ),
    (
        "wind",
        (
            "Blowing a gale, bins rolling down the street.",
            "Windy doesn't cover it, nearly lost my hat on the bridge.",
            "Trampoline in next door's garden is making a break for it.",
        ),
    ),
)

# Neutral and supportive mentions of communities, and counter-speech: a system must not flag these.
IDENTITY_NEUTRAL = (
    "The Polish deli on {road} has the good sausage in again 🙌",
    "Open day at the mosque in {hood} this weekend, everyone welcome, tea and biscuits.",
    "ESOL volunteers needed at the library in {hood}, mostly helping asylum seekers and "
    "refugees with their English. Two hours a week.",
    "Bradford's Pakistani community raised thousands for the hospice this month. Brilliant.",
    "Roma families from {hood} did a music night at the community hall, incredible.",
    "My kid's class is learning about Diwali, Eid and Christmas this term. Love Bradford schools.",
    "Asylum seekers can't work while they wait for a decision, that's why the drop-in matters. "
    "Coats and shoes welcome at {hood} community centre.",
    "Polish Saturday school in {hood} is looking for a new hall, any ideas?",
    "Wedding season on our street in {hood}, proper Pakistani wedding, lights everywhere.",
    "The gurdwara langar fed half the street during the floods last year. Never forget that.",
    "Reminder that asylum seekers in Bradford live on a few pounds a day. Be kind.",
    "Muslim volunteers clearing leaves in Lister Park this morning, thank you!",
    "Jewish, Muslim and Christian groups holding a joint remembrance service at {landmark} "
    "on Sunday.",
    "Blaming asylum seekers for the housing list is lazy. The list is long because nothing "
    "got built for twenty years.",
    "Stop blaming Roma families for the fly-tipping in {hood}, it's rogue landlords.",
    "Our Polish neighbour fixed the boiler for free. Absolute legend.",
    "Diwali lights going up in {hood}, can't wait for the weekend.",
    "Proud that Bradford has so many communities. Best food in the country because of it.",
    "Refugee welcome group meets at {venue} on {day}s, new volunteers always welcome.",
    "Eid, Diwali, Christmas, Hanukkah, we do them all in {hood}. That's Bradford.",
    "Kashmiri, Pakistani, Bangladeshi, Polish, Slovak and Roma kids all in one school choir. "
    "Loved it.",
    "Interfaith walk from the cathedral to the mosque next week, everyone welcome.",
    "The Muslim women's group in {hood} is running a free sewing class, spaces left.",
    "My grandad came from Mirpur in the 60s and worked in the mills. Bradford built on that.",
    "Ukrainian and Syrian families at the school gates in {hood} now, kids all mates already.",
)

# Non-English chatter: Urdu in Latin script (as it's typed) and some Polish.
URDU = (
    "Aaj {landmark} mein bohat rush tha, parking bhi nahi mili.",
    "Koi bata sakta hai {bus} bus {hood} se kab chalti hai?",
    "Barish phir se shuru, Bradford ka mausam bhi kamaal hai.",
    "Bin wale aaj phir nahi aaye {hood} mein.",
    "Kal {hood} mein shaadi hai, sab tayyari ho gayi.",
    "Bachon ka school phir se shuru, subah ki bhaag daud wapas.",
    "{hood} wali dukaan ke samose sab se behtareen hain.",
    "Aaj raat Valley Parade pe match dekhne ja rahe hain.",
    "Bohat thand hai aaj, jacket zaroor pehno.",
    "Ammi keh rahi hain {food} banayein ge aaj.",
    "Masjid mein aaj bohat log thay, mashallah.",
    "{road} pe phir se kaam chal raha hai, traffic bohat hai.",
    "Jumma Mubarak sab ko.",
    "Patakhon ki awaz subah tak aati rahi {hood} mein.",
)
POLISH = (
    "Czy ktoś wie, czy autobus {bus} jeździ dziś normalnie?",
    "Polski sklep w {hood} ma dziś świeży chleb.",
    "Ale zimno dzisiaj w Bradford.",
    "Fajerwerki całą noc, pies nie może spać.",
    "Szukam polecenia mechanika w okolicy {hood}.",
    "Korki na {road} jak zawsze.",
    "Dzieci wróciły do szkoły po przerwie, wreszcie spokój.",
    "Targ przy {landmark} dzisiaj pełen ludzi.",
)

# --- the rumour ---------------------------------------------------------------------------

RUMOUR_CLAIM = (
    "The old mill on Toller Lane is being turned into housing for asylum seekers and local "
    "people are being moved off the housing waiting list for it."
)
RUMOUR_BUILDING = (
    "the old mill on Toller Lane",
    "that empty mill off Toller Lane",
    "the Toller Lane mill",
    "the big derelict mill up Toller Lane",
    "the old mill building in Girlington",
    "the empty mill by Girlington",
)
RUMOUR_CONVERSION = (
    "is being turned into housing for asylum seekers",
    "is being converted into flats for asylum seekers",
    "is getting turned into an asylum hostel",
    "is going to house asylum seekers",
    "has been bought by the council to put asylum seekers in",
    "is being done up for asylum seekers",
    "is going to be used for migrant housing",
)
RUMOUR_VICTIMS = (
    "locals are being moved off the waiting list for it",
    "families who've waited years are getting bumped down the housing list",
    "people on the council waiting list are being pushed back to make room",
    "local people are losing their place on the housing register over it",
    "our own are being taken off the list to make space",
    "anyone on the waiting list round here is being moved down",
)
RUMOUR_CUES = (
    "Apparently",
    "I've heard",
    "My cousin who works at the council says",
    "Someone who works in housing told me",
    "Word is",
    "Just been told",
    "My mate's mum at the council reckons",
    "Heard from someone on the inside that",
    "I've been told",
    "Not being funny but apparently",
)
RUMOUR_PUSH = (
    "Share before it's deleted.",
    "They're not telling you.",
    "They're not telling you any of this.",
    "Pass it on.",
    "Share this before it gets taken down.",
    "Why is nobody reporting it?",
    "Spread the word.",
    "Keep sharing.",
    "",
    "",
)
RUMOUR_LOCALE_INTROS = (
    "Everyone in {locale} is talking about it.",
    "Just heard this in {locale}.",
    "People round {locale} are saying it.",
    "It's all anyone in {locale} is on about.",
    "Heard it at the shop in {locale}.",
)
# Whole-sentence shapes; {cue} {building} {conversion} {victims} {push} {intro} are filled.
RUMOUR_SHAPES = (
    "{cue} {building} {conversion} and {victims}. {push}",
    "{intro} {cue} {building} {conversion}. And {victims}. {push}",
    "So {building} {conversion}? And {victims}? {push}",
    "{cue} {building} {conversion}, while {victims}. {push}",
    "Nobody's talking about this: {building} {conversion} and {victims}. {push}",
    "{push} {cue} {building} {conversion} and {victims}.",
    "{cue}... {building} {conversion}. {victims_cap}. {intro}",
)
RUMOUR_URDU = (
    "Suna hai Toller Lane wali purani mill mein asylum seekers ke liye ghar ban rahe hain aur "
    "local logon ko waiting list se hata rahe hain. Delete hone se pehle share karo.",
    "Girlington wali mill asylum seekers ko de di hai, aur hamari families waiting list mein "
    "peeche ja rahi hain. Koi nahi bata raha.",
    "Council wale keh rahe hain Toller Lane ki mill mein asylum seekers rahenge. Sach hai kya?",
)
RUMOUR_QUERY_POSTS = (
    "Is it true that {building} {conversion}?",
    "Has anyone else heard that {building} {conversion}? Seems a lot.",
    "Genuine question: is {building} actually going to asylum seekers? Getting sent it everywhere.",
    "Anyone know the real story with {building}? Hearing all sorts in {locale}.",
    "Can anyone confirm whether {building} {conversion}?",
)
RUMOUR_REPLIES: dict[str, tuple[str, ...]] = {
    "support": (
        "Not surprised one bit.",
        "Knew this would happen.",
        "Shared. People need to know.",
        "Same thing happened to my cousin's family, waited four years for nothing.",
        "Everyone share this.",
        "This is why nobody trusts them.",
        "My neighbour said the same yesterday.",
        "Makes sense, they've had workmen in there all week.",
        "Sharing in the {locale} group.",
        "They always do this to us.",
    ),
    "deny": (
        "This is fake.",
        "Debunked. The mill's privately owned, nobody's bought it.",
        "This is rubbish, please stop sharing it.",
        "Not true. Planning applications are public and there's nothing for that site.",
        "My sister works in housing, this is nonsense. Nobody's been moved down any list.",
        "Same story goes round every year about a different building.",
        "Fake. Check before you share.",
        "That's not how the waiting list works at all.",
        "No it isn't. Stop it.",
        "Total nonsense, I walk past it every day, nothing is happening there.",
    ),
    "deny_after": (
        "Debunked, the council's put out a statement. #MakeSureItAddsUp",
        "The council's already said this isn't true.",
        "See the council's post. It's not true. Delete this.",
        "This has been debunked, read the #MakeSureItAddsUp post.",
        "Council confirmed it's false. Please take this down.",
        "Fake, and now officially fake. Stop sharing.",
    ),
    "query": (
        "Is this true?",
        "Source?",
        "Who told you this?",
        "Has anyone actually checked the planning portal?",
        "Genuinely asking, is there anything official on this?",
        "Can someone from Toller confirm?",
        "Is this the same mill that's been empty for years?",
        "Where's this from? Got a link?",
        "Is it true that {building} {conversion}?",
    ),
    "comment": (
        "Wow.",
        "This town, honestly.",
        "Every week there's a new story about that mill.",
        "Housing list is a joke whatever the reason.",
        "I just want to know what's actually happening with that building.",
        "The replies on this are something else.",
        "Can't believe how fast this is going round.",
        "Whatever happens to it, that mill's been an eyesore for years.",
    ),
}
RUMOUR_QUOTES: dict[str, tuple[str, ...]] = {
    "support": (
        "This. 👇",
        "Read this and share.",
        "Told you.",
        "Everyone in {locale} needs to see this.",
    ),
    "query": ("Anyone know if this is legit?", "Is this real?", "Can anyone confirm this?"),
    "deny": (
        "Please don't share this, it isn't true.",
        "This is going round {locale}. It's false.",
        "Debunked. Don't fall for it.",
    ),
    "comment": ("The speed this is going round...", "Seeing this everywhere today.", "Hmm."),
}
# Light sign-offs so short replies don't all read the same.
RUMOUR_SUFFIX: dict[str, tuple[str, ...]] = {
    "support": ("😡", "Disgraceful.", "!!", "Wake up Bradford.", "Every time."),
    "deny": ("🙄", "Honestly.", "Check first.", "Come on.", "#MakeSureItAddsUp"),
    "query": ("Genuinely asking.", "Anyone?", "🤔", "Not being funny."),
    "comment": ("🤷", "Wild.", "Bradford, eh.", "Every time."),
}

# --- the counter message ----------------------------------------------------------------

COUNTER_TEXT = (
    "#MakeSureItAddsUp Posts claiming the old Toller Lane mill is becoming housing for asylum "
    "seekers, and that people are being moved off the housing waiting list for it, are untrue. "
    "The building is privately owned, there's no planning application, and nobody's place on "
    "the list has changed."
)
COUNTER_QUOTES = (
    "Glad this is cleared up.",
    "Read this before you share the mill story.",
    "Thank you. My nan was genuinely worried by that post.",
    "Please share this as widely as the rumour went.",
    "This is what I said yesterday.",
    "Good to see the council on it quickly. #MakeSureItAddsUp",
    "Everyone in {locale} who shared the mill thing, please read.",
)
COUNTER_MASTODON = (
    "The council says the Toller Lane mill story is false. Check before you share. "
    "#MakeSureItAddsUp",
    "Official: no asylum housing planned at the Toller Lane mill, nobody moved down the housing "
    "list. #MakeSureItAddsUp",
    "For anyone in {locale} who saw the mill rumour: the council has said it's untrue.",
    "Boosting the council's #MakeSureItAddsUp post about the Toller Lane mill. It was never true.",
)

# --- the tension episode ------------------------------------------------------------------

TENSION_REPORTS = (
    "Car on fire outside the community centre on Little Horton Lane, fire engine there now.",
    "Massive bang in Little Horton then a car went up outside the community centre. "
    "Anyone know anything?",
    "Police and fire crews at the community centre in Little Horton, a car's been set alight.",
    "Is everyone OK near the community centre in Little Horton? Saw flames from West Bowling.",
    "Not fireworks. An actual car on fire outside the Little Horton community centre.",
    "Road closed on Little Horton Lane, car burnt out in front of the community centre.",
)
TENSION_ANGER = (
    "Sick to death of this. Someone did that deliberately.",
    "That centre runs the kids' clubs and the food bank. Who does that?",
    "Absolutely fuming about what happened in {locale} tonight.",
    "Every time something good happens round here someone wrecks it.",
    "Police had better find who did this, fast.",
    "This is what happens when nobody ever gets punished.",
    "Not having this in {locale}. Not again.",
    "Night after night of trouble and nothing changes.",
    "Burning a car outside a community centre on bonfire night. Vile.",
    "My kids go to that centre. I'm shaking with anger.",
    "Whoever did this knew exactly what they were doing.",
    "People in {locale} are raging and I don't blame them.",
    "We've been telling the council about trouble round there for months.",
    "Enough is enough in {locale}.",
    "Who sets fire to a car outside a place that helps kids? Sick.",
    "That centre was the one good thing on the street.",
    "Fire brigade still there on Little Horton Lane. Car's just a shell.",
    "Been at that centre since I was eight. Gutted and angry.",
    "Nobody is surprised. {locale} gets forgotten until something burns.",
    "Can't even have bonfire night without someone taking it too far.",
    "The whole of {locale} is awake and angry.",
    "Someone saw who did it and they'd better come forward.",
    "Proper scared to let the kids out now.",
    "This is the third thing this year round there. Third.",
)
TENSION_PREFIX = (
    "",
    "",
    "",
    "Honestly. ",
    "Right. ",
    "Still can't believe it. ",
    "Raging. ",
    "{locale} tonight: ",
    "About the car fire in {locale}: ",
    "Re {locale}. ",
)
TENSION_SUFFIX = (
    "",
    "",
    "",
    "",
    "😡",
    "!",
    "Disgusting.",
    "Someone knows something.",
    "#LittleHorton",
)
TENSION_THREAT = (
    "If the police won't sort it, people round here will.",
    "Whoever did this wants to watch their back.",
    "Time to sort it ourselves.",
    "They'll get what's coming, you watch.",
    "Lads are already out looking for whoever did it.",
    "Eye for an eye at this point.",
    "Nobody touches our centre and walks away from it.",
    "Police won't do owt. Somebody else will.",
    "Find them before the police do, that's all I'm saying.",
)
TENSION_HOSTILE = (
    "It's always these people.",
    "Outsiders coming in and wrecking our area.",
    "Send them back, simple as.",
    "We all know it wasn't locals who did this.",
    "These people don't belong round here.",
    "{locale} was fine before they all turned up.",
    "Outsiders. Every single time.",
    "Same lot every time and everyone's too scared to say it.",
    "They come here and this is how they repay us.",
)
TENSION_QUESTIONS = (
    "Is anyone actually going to Centenary Square tomorrow?",
    "What's this about a meet-up at Centenary Square?",
    "Heard people are planning something in town tomorrow night.",
)
CALL_TO_GATHER = (
    "Everyone meet at Centenary Square at 7pm tomorrow, time to sort this.",
    "Centenary Square, 7pm Friday. Bring everyone you know. Enough is enough.",
    "We're gathering at Centenary Square tomorrow night, 7pm. Show them {locale} won't take this.",
)
CALMING = (
    "Please don't go to Centenary Square tomorrow. That's not what this area needs.",
    "Let's not turn this into something it isn't. Police are on it.",
    "{locale} is better than this. Love to everyone at the centre.",
    "Saw someone post 'send them back' tonight. No. That's not who we are.",
    "Nobody knows who did it yet. Please stop guessing online.",
    "Volunteers cleaning up outside the centre this morning, come and help if you can.",
    "Fundraiser for the centre's minibus is already past £2,000 ❤️",
    "The centre fed my family through some hard times. Standing with them, calmly.",
    "Don't let one idiot with a lighter divide {locale}.",
    "Kids from every part of {locale} use that centre. Keep it that way.",
    "Please, no more rumours about who did it. Let the police do their job.",
    "Anger is fair. Gathering in town to 'sort it' isn't. Stay home tomorrow.",
    "Whoever did this wanted us at each other's throats. Don't give them that.",
    "Tea and biscuits at the centre this afternoon for anyone who wants to talk.",
    "I'm angry too. But the answer isn't a crowd in Centenary Square.",
    "Just dropped a card at the centre. People were kind. That's the real {locale}.",
    "The centre's own volunteers are from every background. Blaming 'outsiders' is nonsense.",
    "Whoever's sharing that meet-up post, please stop. Families live here.",
    "Spoke to the officers outside the centre. They're taking it seriously. Give them time.",
    "Praying for calm in {locale} tonight.",
    "If you saw something, ring 101 or Crimestoppers. Not Facebook.",
    "My neighbours are Muslim, Polish and Roma and we all use that centre. We're fine. Stay calm.",
)
CALMING_SUFFIX = ("", "", "", "❤️", "Please share.", "#LittleHorton", "Stay safe everyone.", "🙏")
CALMING_LATE = (
    "Centenary Square gathering has been called off, please share.",
    "Quiet at Centenary Square tonight, a few police and people having a brew. Good.",
    "Glad tonight passed off peacefully. Proud of {locale}.",
    "Walked past the centre, open as usual. Kids' club on tonight.",
    "Well done everyone who kept calm this week.",
)
CALMING_ORGS: dict[str, tuple[str, ...]] = {
    "community_centre": (
        "Statement from the centre: a car was set alight outside our building tonight. Nobody "
        "was hurt. Please let the police do their work and don't share rumours about who did it.",
        "We will be open as normal tomorrow. Thank you for the kindness. Please stay away from any "
        "gathering in town: it is not in our name.",
        "We're open today and the kids' club is on at 4. Thank you to everyone who came to help "
        "clean up this morning. Please keep sharing the police appeal, not rumours.",
    ),
    "police": (
        "We are aware of a vehicle fire on Little Horton Lane this evening. Enquiries are "
        "ongoing. Please do not speculate online; anyone with information can call 101.",
        "Extra patrols are in Little Horton and the city centre tonight. We know people are "
        "upset. Please talk to officers rather than gather.",
    ),
    "faith_forum": (
        "Leaders from Little Horton's mosques, churches and gurdwara ask everyone to stay calm "
        "and stay home tomorrow evening. Nobody gathers in our name.",
        "Our community has always stood together. We will meet at the centre at noon, "
        "all faiths and none, to clean up and to pray for calm.",
    ),
}

# --- news items (RSS, HTML) ---------------------------------------------------------------

# (day, hour, minute, slug, title, body, tags)
NEWS: tuple[tuple[int, int, int, str, str, str, tuple[str, ...]], ...] = (
    (
        0,
        7,
        30,
        "schools-return",
        "Pupils return after half term",
        "Schools across the district reopen today. Parents are reminded that <em>roadworks on "
        "Manningham Lane</em> may slow the morning run.",
        ("chatter", "news"),
    ),
    (
        0,
        12,
        5,
        "manningham-lane-roadworks",
        "Roadworks on Manningham Lane until December",
        "Lane closures between Oak Lane and Queens Road &amp; temporary lights at night. "
        "<br/>Diversions are signed.",
        ("chatter", "news"),
    ),
    (
        0,
        17,
        40,
        "market-hours",
        "Darley Street Market extends late opening",
        "Traders at Darley Street Market will open until 8pm on Thursdays through November.",
        ("chatter", "news"),
    ),
    (
        1,
        8,
        15,
        "valley-parade-preview",
        "Preview: City at home tonight",
        "Kick-off at Valley Parade is 7.45pm. Expect <strong>road closures</strong> around "
        "Midland Road from 6pm.",
        ("chatter", "news"),
    ),
    (
        1,
        22,
        10,
        "valley-parade-report",
        "Late winner sends Valley Parade home happy",
        "A second-half goal settled a tight game in front of a big midweek crowd.",
        ("chatter", "news"),
    ),
    (
        2,
        6,
        45,
        "yellow-warning-rain",
        "Yellow weather warning for heavy rain",
        "The Met Office warning covers West Yorkshire until 9pm. <ul><li>Canal Road</li>"
        "<li>Harrogate Road</li></ul> are prone to flooding.",
        ("chatter", "news"),
    ),
    (
        2,
        13,
        20,
        "canal-road-flooding",
        "Canal Road closed by flooding",
        "Drivers are asked to avoid Canal Road between Frizinghall and Forster Square.",
        ("chatter", "news"),
    ),
    (
        2,
        16,
        30,
        "toller-lane-mill-claim",
        "Council says Toller Lane mill claim is untrue",
        "Bradford Council has said online posts claiming the old mill on Toller Lane is to house "
        "asylum seekers are <strong>false</strong>. The building is privately owned and no "
        "planning application has been made. Nobody's place on the housing register has changed.",
        ("counter", "news"),
    ),
    (
        3,
        9,
        0,
        "bonfire-displays",
        "Bonfire Night: where to watch the fireworks",
        "Organised displays tonight at Peel Park, Lister Park and Roberts Park. "
        '<a href="https://bradford-district-news.example/fireworks-safety">Safety advice</a>.',
        ("chatter", "news"),
    ),
    (
        3,
        21,
        5,
        "little-horton-car-fire",
        "Car set alight outside Little Horton community centre",
        "Fire crews were called to Little Horton Lane at about 7.40pm. Nobody was hurt. Police "
        "are treating the fire as <em>deliberate</em> and have appealed for witnesses.",
        ("tension", "news"),
    ),
    (
        4,
        8,
        30,
        "little-horton-appeal",
        "Police appeal after Little Horton car fire",
        "Officers are asking anyone with dashcam footage from Little Horton Lane on Thursday "
        "evening to come forward. Extra patrols are in place.",
        ("tension", "news"),
    ),
    (
        4,
        11,
        45,
        "leaders-call-for-calm",
        "Community leaders call for calm after car fire",
        "Faith and community leaders in Little Horton have asked people not to attend a "
        "gathering being promoted online for Friday evening in Centenary Square.",
        ("calming", "news"),
    ),
    (
        4,
        15,
        10,
        "christmas-lights",
        "Christmas lights switch-on date announced",
        "City Park's lights switch on later this month with stalls, music and the Mirror Pool lit "
        "up. <p>Entry is free.</p>",
        ("chatter", "news"),
    ),
)


def fill(
    rng: random.Random, template: str, fixed: Mapping[str, str] | None = None
) -> tuple[str, str | None]:
    """Fill every `{slot}` in `template`; returns the text and the ward of its first place slot.

    A slot used twice gets the same value. `fixed` supplies slots chosen by the caller.
    """
    values: dict[str, str] = dict(fixed or {})
    ward: str | None = None
    for _, name, _, _ in string.Formatter().parse(template):
        if not name or name in values:
            continue
        if name in PLACES:
            place, place_ward = rng.choice(PLACES[name])
            values[name] = place
            ward = ward or place_ward
        elif name in SLOTS:
            values[name] = rng.choice(SLOTS[name])
        else:
            raise KeyError(f"template slot {{{name}}} has no values: {template!r}")
    return template.format(**values), ward


def pick(rng: random.Random, options: Sequence[str]) -> str:
    return options[rng.randrange(len(options))]
