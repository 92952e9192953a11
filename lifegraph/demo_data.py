"""What the demo account holds, planned from a seeded random generator and a moment "now":
a few months of one person's spending, habits, tasks and notes in Amsterdam, in euros.

Pure data, nothing stored: :mod:`lifegraph.demo` puts the plan through the resolvers. The
same seed and the same day give the same plan.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from db.habits import HabitFrequency
from db.tasks import TaskPriority, TaskStatus
from lifegraph.receipt_images import Receipt, ReceiptLine

TIMEZONE = "Europe/Amsterdam"
CURRENCY = "EUR"
LOCALE = "en-GB"
DISPLAY_NAME = "Alex Demo"
VAT_RATE = Decimal("0.09")
_NOTES_ON_PURCHASES = {
    "Eating out": ["Dinner with Mira", "Team lunch, paid back by Jonas", "Birthday dinner"],
    "Electronics": ["Two-year warranty, receipt kept"],
}


@dataclass(frozen=True)
class Shop:
    name: str
    category: str
    address: tuple[str, ...]
    registration: str
    phone: str


@dataclass(frozen=True)
class PlannedPurchase:
    shop: Shop
    at: datetime
    lines: tuple[ReceiptLine, ...]
    note: str | None = None
    with_receipt: bool = False
    """A photo of its receipt is uploaded and read by OCR."""
    linked: bool = True
    """Recorded as a purchase; a receipt that is not is still waiting to be turned into one."""

    @property
    def amount(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))

    def receipt(self, number: int) -> Receipt:
        """The receipt the shop printed: prices include VAT; large sums are paid by card."""
        total = self.amount
        by_card = total >= 60
        cash = total if by_card else next(n for n in (5, 10, 20, 50, 100, 200) if n >= total)
        return Receipt(
            merchant=self.shop.name.upper(),
            registration=self.shop.registration,
            address=self.shop.address,
            phone=self.shop.phone,
            purchased_on=self.at.date(),
            date_text=f"{self.at:%d-%m-%Y %H:%M}",
            lines=self.lines,
            tax_rate=VAT_RATE,
            tax_label=f"INCL. VAT {VAT_RATE * 100:.0f}%",
            tax_included=True,
            payment="CARD" if by_card else "CASH",
            cash=Decimal(cash).quantize(Decimal("0.01")),
            currency_mark=CURRENCY,
            currency=CURRENCY,
            receipt_number=f"{self.at:%y%m%d}-{number:04d}",
            cashier=("SANNE", "DAAN", "NOOR", "LUCAS")[number % 4],
            footer="THANK YOU AND SEE YOU SOON",
        )


@dataclass(frozen=True)
class PlannedHabit:
    name: str
    description: str
    color: str
    frequency: HabitFrequency
    target_per_week: int
    days: tuple[date, ...]


@dataclass(frozen=True)
class PlannedTask:
    title: str
    description: str | None
    status: TaskStatus
    priority: TaskPriority
    due_at: datetime | None
    tags: tuple[str, ...]


@dataclass(frozen=True)
class PlannedNote:
    title: str
    content: str
    tags: tuple[str, ...]
    pinned: bool = False


@dataclass(frozen=True)
class Plan:
    purchases: tuple[PlannedPurchase, ...]
    habits: tuple[PlannedHabit, ...]
    tasks: tuple[PlannedTask, ...]
    notes: tuple[PlannedNote, ...]

    @property
    def receipts(self) -> tuple[PlannedPurchase, ...]:
        return tuple(p for p in self.purchases if p.with_receipt)

    @property
    def check_ins(self) -> int:
        return sum(len(habit.days) for habit in self.habits)


def _shop(name: str, category: str, street: str, postcode: str, number: int) -> Shop:
    return Shop(
        name,
        category,
        (street.upper(), f"{postcode} AMSTERDAM"),
        f"KVK {number}",
        f"TEL: 020 {number % 1000:03d} {number % 10000:04d}",
    )


SUPERMARKET = _shop("Albert Markt", "Groceries", "Kinkerstraat 112", "1053 ED", 35012085)
CORNER_SHOP = _shop(
    "Buurtsuper De Hoek", "Groceries", "Jan Pieter Heijestraat 8", "1053 GK", 61784412
)
CAFE = _shop("Koffieboon", "Coffee", "Overtoom 45", "1054 HB", 61234987)
BAKERY = _shop("Bakkerij Vermeer", "Coffee", "Ten Katestraat 19", "1053 CB", 58120334)
TRANSIT = _shop("City Transit", "Transport", "Stationsplein 1", "1012 AB", 33020011)
RAIL = _shop("Rail NL", "Transport", "Stationsplein 3", "1012 AB", 30124359)
TAXI = _shop("Taxi Centrale", "Transport", "Van Hallstraat 22", "1051 HH", 34110876)
RESTAURANTS = (
    _shop("Trattoria Bella", "Eating out", "De Clercqstraat 70", "1052 NM", 64455120),
    _shop("Pho Saigon", "Eating out", "Bilderdijkstraat 131", "1053 KP", 70012398),
    _shop("De Burgerij", "Eating out", "Kinkerstraat 36", "1053 DZ", 59923018),
)
PHARMACY = _shop("Apotheek Centrum", "Health", "Overtoom 210", "1054 HW", 33460021)
GYM = _shop("Fit Gym", "Health", "Baarsjesweg 240", "1058 AA", 67312200)
PHONE = _shop("Mobiel NL", "Utilities", "Herengracht 500", "1017 CB", 27150004)
STREAMING = _shop("Stream+", "Entertainment", "Keizersgracht 62", "1015 CS", 71230988)

GROCERIES = {
    "WHOLE MILK 1L": "1.29",
    "SOURDOUGH BREAD": "3.49",
    "BANANAS 1KG": "1.99",
    "GOUDA CHEESE 400G": "5.79",
    "PASTA FUSILLI": "1.15",
    "FREE RANGE EGGS 6": "2.89",
    "TOMATOES 500G": "2.19",
    "OLIVE OIL 500ML": "6.49",
    "GREEK YOGHURT 500G": "2.35",
    "CHICKEN BREAST 400G": "5.99",
    "SPINACH 300G": "1.89",
    "BROWN RICE 1KG": "2.49",
    "APPLES 1KG": "2.79",
    "COFFEE BEANS 500G": "7.99",
    "ORANGE JUICE 1L": "2.69",
    "DARK CHOCOLATE": "1.79",
    "ONIONS 1KG": "1.29",
    "CARROTS 1KG": "0.99",
    "HUMMUS 200G": "1.99",
    "SALMON FILLET 250G": "4.99",
    "BUTTER 250G": "2.59",
    "MUESLI 750G": "3.29",
    "CHICKPEAS 400G": "0.89",
    "DISHWASHER TABS": "4.99",
}
TOP_UPS = ("WHOLE MILK 1L", "SOURDOUGH BREAD", "BANANAS 1KG", "FREE RANGE EGGS 6", "HUMMUS 200G")
COFFEES = {"FLAT WHITE": "3.80", "CAPPUCCINO": "3.60", "ESPRESSO": "2.40", "OAT LATTE": "4.10"}
PASTRIES = {"CROISSANT": "2.60", "APPLE PIE SLICE": "3.90", "CINNAMON ROLL": "3.20"}
DISHES = {
    "Trattoria Bella": {
        "PIZZA MARGHERITA": "12.50",
        "TAGLIATELLE RAGU": "15.90",
        "TIRAMISU": "7.50",
        "HOUSE WINE GLASS": "5.50",
    },
    "Pho Saigon": {
        "PHO BO": "14.50",
        "SPRING ROLLS": "6.90",
        "BANH MI": "9.50",
        "JASMINE TEA": "3.00",
    },
    "De Burgerij": {
        "CLASSIC BURGER": "13.90",
        "VEGGIE BURGER": "12.90",
        "FRIES": "4.50",
        "CRAFT BEER": "5.90",
    },
}
BIG_PURCHASES = (
    (
        _shop("Elektro Huis", "Electronics", "Kalverstraat 120", "1012 PK", 24567012),
        "NOISE CANCEL HEADPHONES",
        "179.00",
    ),
    (
        _shop("Nordic Outdoor", "Clothing", "Leidsestraat 59", "1017 NV", 63401277),
        "WINTER JACKET",
        "129.95",
    ),
    (
        _shop("Wonen & Zo", "Home", "Ferdinand Bolstraat 88", "1072 LM", 52210984),
        "DESK CHAIR",
        "249.00",
    ),
    (
        _shop("Concertgebouw Tickets", "Entertainment", "Van Baerlestraat 98", "1071 BA", 41198820),
        "CONCERT TICKET",
        "58.50",
    ),
)


def plan(rng: random.Random, now: datetime, *, months: int, receipts: int) -> Plan:
    """``now`` is aware, in the user's time zone; every date planned is at most ``now``."""
    start = now.date() - timedelta(days=round(months * 30.4))
    return Plan(
        purchases=_with_receipts(rng, _purchases(rng, start, now), receipts),
        habits=_habits(rng, start, now.date()),
        tasks=_tasks(rng, now),
        notes=_notes(now.date()),
    )


def _days(start: date, end: date) -> Iterator[date]:
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


def _at(day: date, now: datetime, hour: float) -> datetime:
    minutes = round(hour * 60)
    return datetime.combine(day, time(minutes // 60, minutes % 60), now.tzinfo)


def _lines(rng: random.Random, prices: dict[str, str], count: int) -> tuple[ReceiptLine, ...]:
    names = rng.sample(sorted(prices), min(count, len(prices)))
    return tuple(
        ReceiptLine(name, rng.choice((1, 1, 1, 2, 2, 3)), Decimal(prices[name])) for name in names
    )


def _purchases(rng: random.Random, start: date, now: datetime) -> list[PlannedPurchase]:
    bought: list[PlannedPurchase] = []

    def buy(shop: Shop, day: date, hour: float, lines: tuple[ReceiptLine, ...]) -> None:
        notes = _NOTES_ON_PURCHASES.get(shop.category)
        note = rng.choice(notes) if notes and rng.random() < 0.3 else None
        bought.append(PlannedPurchase(shop, _at(day, now, hour), lines, note))

    big = {
        start + timedelta(days=round((i + 0.6) * (now.date() - start).days / 4)): item
        for i, item in enumerate(BIG_PURCHASES)
    }
    for day in _days(start, now.date()):
        weekday = day.weekday()
        if weekday == 5 or (weekday == 6 and rng.random() < 0.15):
            buy(SUPERMARKET, day, rng.uniform(10, 17), _lines(rng, GROCERIES, rng.randint(6, 10)))
        elif weekday in (1, 3) and rng.random() < 0.45:
            top_up = {name: GROCERIES[name] for name in TOP_UPS}
            buy(CORNER_SHOP, day, rng.uniform(17.5, 20), _lines(rng, top_up, rng.randint(2, 3)))
        if weekday < 5 and rng.random() < 0.55:
            cafe = rng.choice((CAFE, CAFE, BAKERY))
            lines = _lines(rng, COFFEES, 1)[:1]
            if cafe is BAKERY or rng.random() < 0.3:
                lines += _lines(rng, PASTRIES, 1)
            buy(
                cafe, day, rng.uniform(7.8, 9.5), tuple(replace(line, quantity=1) for line in lines)
            )
        if day.day == 1 or day == start:
            buy(TRANSIT, day, 8.2, (ReceiptLine("TRANSIT CARD TOP-UP", 1, Decimal("40.00")),))
        if weekday == 4 and rng.random() < 0.3:
            fare = Decimal(rng.choice(("18.40", "23.70", "29.20")))
            buy(RAIL, day, rng.uniform(16, 18), (ReceiptLine("RETURN TICKET", 1, fare),))
        if weekday in (4, 5) and rng.random() < 0.35:
            restaurant = rng.choice(RESTAURANTS)
            dishes = DISHES[restaurant.name]
            buy(restaurant, day, rng.uniform(19, 21), _lines(rng, dishes, rng.randint(2, 4)))
            if rng.random() < 0.3:
                fare = Decimal(rng.randint(14, 28)) + Decimal(rng.choice(("0.50", "0.90")))
                buy(TAXI, day, rng.uniform(22, 23.5), (ReceiptLine("TAXI RIDE", 1, fare),))
        if rng.random() < 0.03:
            medicine = rng.choice((("IBUPROFEN 400MG", "3.49"), ("VITAMIN D", "6.95")))
            buy(
                PHARMACY,
                day,
                rng.uniform(12, 18),
                (ReceiptLine(medicine[0], 1, Decimal(medicine[1])),),
            )
        if day.day == 3:
            buy(GYM, day, 6.0, (ReceiptLine("MONTHLY MEMBERSHIP", 1, Decimal("34.90")),))
        if day.day == 12:
            buy(PHONE, day, 6.0, (ReceiptLine("PHONE PLAN 20GB", 1, Decimal("25.00")),))
        if day.day == 20:
            buy(STREAMING, day, 6.0, (ReceiptLine("MONTHLY PLAN", 1, Decimal("11.99")),))
        if day in big:
            shop, item, price = big[day]
            quantity = 2 if shop.category == "Entertainment" else 1
            buy(shop, day, rng.uniform(11, 18), (ReceiptLine(item, quantity, Decimal(price)),))
    return [purchase for purchase in bought if purchase.at <= now]


def _with_receipts(
    rng: random.Random, purchases: list[PlannedPurchase], count: int
) -> tuple[PlannedPurchase, ...]:
    """Receipts are kept for shopping of three lines or more and for large sums; one in three
    of them is not yet recorded as a purchase."""
    kept = [i for i, p in enumerate(purchases) if len(p.lines) >= 3 or p.amount >= 50]
    chosen = sorted(rng.sample(kept, min(count, len(kept))))
    planned = list(purchases)
    for n, index in enumerate(chosen):
        planned[index] = replace(planned[index], with_receipt=True, linked=n % 3 != 2)
    return tuple(planned)


def _daily(
    rng: random.Random, start: date, today: date, keep: float, recover: float, current: int
) -> tuple[date, ...]:
    """Check-ins of a daily habit: a run goes on with chance ``keep``, starts again after a
    gap with chance ``recover``; the last ``current`` days (to today) are a streak."""
    days, done = [], True
    for day in _days(start, today):
        done = rng.random() < (keep if done else recover)
        if done or (today - day).days < current:
            days.append(day)
    return tuple(days)


def _weekly(
    rng: random.Random, start: date, today: date, target: int, weekdays: tuple[int, ...]
) -> tuple[date, ...]:
    """Check-ins of a weekly habit: about ``target`` a week on the given weekdays, with
    the odd week short of it."""
    days = []
    monday = start - timedelta(days=start.weekday())
    while monday <= today:
        count = min(len(weekdays), max(0, target + rng.choice((-1, 0, 0, 0, 1))))
        for weekday in sorted(rng.sample(weekdays, count)):
            day = monday + timedelta(days=weekday)
            if start <= day <= today:
                days.append(day)
        monday += timedelta(days=7)
    return tuple(days)


def _habits(rng: random.Random, start: date, today: date) -> tuple[PlannedHabit, ...]:
    later = start + timedelta(days=(today - start).days // 3)
    daily, weekly = HabitFrequency.DAILY, HabitFrequency.WEEKLY
    return (
        PlannedHabit(
            "Read 20 pages",
            "Before bed, no screens.",
            "#3FA34D",
            daily,
            7,
            _daily(rng, start, today, 0.9, 0.6, current=12),
        ),
        PlannedHabit(
            "Drink 2 litres of water",
            "The big bottle, twice.",
            "#2E86DE",
            daily,
            7,
            _daily(rng, start, today, 0.8, 0.7, current=3),
        ),
        PlannedHabit(
            "Meditate",
            "Ten minutes with the app.",
            "#8E44AD",
            daily,
            7,
            _daily(rng, later, today - timedelta(days=2), 0.7, 0.4, current=0),
        ),
        PlannedHabit(
            "Run",
            "5 km along the Vondelpark.",
            "#E67E22",
            weekly,
            3,
            _weekly(rng, start, today, 3, (1, 3, 5, 6)),
        ),
        PlannedHabit(
            "Call the family",
            "Sunday evening call.",
            "#C0392B",
            weekly,
            1,
            _weekly(rng, start, today, 1, (5, 6)),
        ),
    )


# title | status | priority | due in days from today ("-" for none) | tags | description
_TASKS = """
File the quarterly VAT return | TODO | URGENT | -3 | admin,money | Export purchases first.
Renew passport | IN_PROGRESS | HIGH | -1 | admin | Book at the city office; two photos.
Pay the energy bill | TODO | HIGH | 0 | money,home |
Book dentist check-up | TODO | MEDIUM | -6 | health |
Fix the bike's rear light | TODO | MEDIUM | -2 | bike |
Plan the spring trip | IN_PROGRESS | MEDIUM | 14 | travel | Lisbon or Porto? See the note.
Buy a birthday present for Mira | TODO | HIGH | 4 | family | Ideas in the gift note.
Call the landlord about the radiator | TODO | HIGH | 1 | home |
Back up the laptop | TODO | LOW | 7 | tech |
Cancel the unused magazine subscription | TODO | LOW | - | money |
Sort out the winter clothes | TODO | LOW | - | home |
Read the new tenancy agreement | IN_PROGRESS | MEDIUM | 3 | home,admin |
Sign up for the 10 km race | TODO | MEDIUM | 9 | running | Early-bird price ends soon.
Update the CV | TODO | LOW | 21 | career |
Return the library books | TODO | MEDIUM | 2 | errands |
Water the plants at the Jansens' | IN_PROGRESS | LOW | 0 | neighbours |
Submit the health insurance claim | DONE | HIGH | -10 | health,money | Physio invoices.
Replace the kitchen tap washer | DONE | MEDIUM | -20 | home |
Order new running shoes | DONE | MEDIUM | -35 | running |
Set up the monthly savings transfer | DONE | HIGH | -50 | money |
Book the train to Utrecht | DONE | LOW | -8 | travel |
Send the photos to grandma | DONE | LOW | - | family |
Service the boiler | DONE | URGENT | -60 | home |
Clear out the inbox | DONE | LOW | -1 | admin |
Try the new lentil soup recipe | TODO | LOW | 5 | cooking | Recipe in the notes.
"""


def _tasks(rng: random.Random, now: datetime) -> tuple[PlannedTask, ...]:
    tasks = []
    for row in _TASKS.strip().splitlines():
        title, status, priority, due_in, tags, description = (
            cell.strip() for cell in row.split("|")
        )
        due = None
        if due_in != "-":
            hour = 23.5 if due_in == "0" else rng.choice((9, 12, 17, 18))  # today's: not overdue
            due = _at(now.date() + timedelta(days=int(due_in)), now, hour)
        tasks.append(
            PlannedTask(
                title,
                description or None,
                TaskStatus(status),
                TaskPriority(priority),
                due,
                tuple(tags.split(",")),
            )
        )
    return tuple(tasks)


def _notes(today: date) -> tuple[PlannedNote, ...]:
    last_month = today.replace(day=1) - timedelta(days=1)
    return (
        PlannedNote(
            "Spring trip ideas",
            "# Spring trip\n\n**Lisbon** or **Porto**, four days "
            "in April.\n\n- Tram 28 early in the morning\n- Day trip to Sintra\n"
            "- Budget: about €600 with flights\n\nSee the task *Plan the spring trip*.",
            ("travel",),
            pinned=True,
        ),
        PlannedNote(
            "Lentil soup",
            "## Ingredients\n\n- 250 g red lentils\n- 1 onion, 2 carrots"
            "\n- 1 tin chopped tomatoes\n- cumin, paprika, lemon\n\n## Method\n\n"
            "1. Soften the onion and carrots.\n2. Add the rest and 1 l of stock.\n"
            "3. Simmer 25 minutes, blend half.",
            ("cooking", "recipes"),
        ),
        PlannedNote(
            f"Budget review, {last_month:%B %Y}",
            "Spent more on **eating out** than "
            "planned.\n\n| Category | Plan | Actual |\n|---|---|---|\n"
            "| Groceries | €280 | see the app |\n| Eating out | €120 | see the app |\n\n"
            "> Cook on Thursdays instead of ordering.",
            ("money",),
            pinned=True,
        ),
        PlannedNote(
            "Books to read",
            "- [x] *The Overstory*\n- [ ] *Klara and the Sun*\n"
            "- [ ] *Educated*\n- [ ] *Project Hail Mary*",
            ("books",),
        ),
        PlannedNote(
            "Gift ideas for Mira",
            "- Ceramics workshop voucher\n- The cookbook from "
            "the market stall\n- ~~Scarf~~ (gave one last year)",
            ("family", "gifts"),
        ),
        PlannedNote(
            "10 km training plan",
            "Three runs a week:\n\n1. **Tuesday** — easy 5 km\n"
            "2. **Thursday** — intervals, 6 x 400 m\n3. **Sunday** — long run, +1 km "
            "a week\n\nRace day goal: under 55 minutes.",
            ("running", "health"),
        ),
        PlannedNote(
            "Landlord call notes",
            "Radiator in the bedroom is cold.\n\n- Plumber "
            "can come on a weekday morning\n- Ask about the window seals too\n"
            "- Keep the emails in the *home* folder",
            ("home",),
        ),
        PlannedNote(
            "Passwords to rotate",
            "Bank, email, cloud storage.\n\nUse the password "
            "manager; turn on two-factor everywhere.",
            ("tech", "admin"),
        ),
        PlannedNote(
            "Weekend in Utrecht",
            "Took the train at 9:15.\n\n- Climbed the Dom tower "
            "(465 steps!)\n- Lunch by the canal\n- Bought a print at the market",
            ("travel", "journal"),
        ),
        PlannedNote(
            "Ideas for the balcony",
            "Herbs in a long planter: basil, thyme, mint.\n\n"
            "Maybe a small bench — measure first: **1.2 m** wide.",
            ("home",),
        ),
    )
