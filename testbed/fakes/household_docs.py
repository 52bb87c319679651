"""A household's documents for tests and benchmarks, written by the test run: manuals as real PDFs
(reportlab; several pages, each fact on a known page), notes in Markdown, web pages saved as HTML and
letters as plain text. `FACTS` holds 40 questions with the document and page that answer them and the
words a right answer must hold; `NOT_THERE` holds 10 questions the documents do not answer, several
of them close to what they do hold. `NOT_THERE` was written before any answering was tuned on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas


@dataclass(frozen=True)
class Fact:
    question: str
    file: str
    page: int | None
    words: tuple[str, ...]
    """Words the right passage, and a right answer, hold (case aside)."""


FILLER = (
    "Read all safety instructions before use. Keep the appliance away from children. Unplug it before "
    "cleaning. The manufacturer is not liable for damage caused by improper use. Keep this manual. "
)

MANUALS: dict[str, tuple[str, list[str]]] = {
    "coffee_machine_manual.pdf": (
        "Coffee machine manual",
        [
            "Welcome. " + FILLER * 3,
            "Filling the water tank. Use fresh cold water only. Never fill the tank with milk or sparkling water. "
            + FILLER * 2,
            "Descaling. Descale the coffee machine every two months: dissolve 30 grams of citric acid in one litre of "
            "water, pour it into the tank and run the rinse programme twice. " + FILLER,
            "Cleaning the milk frother. Rinse the frother nozzle with warm water after every use. " + FILLER,
            "Grinder. For espresso set the grinder to level 3. For filter coffee set it to level 6. " + FILLER,
        ],
    ),
    "boiler_guide.pdf": (
        "Boiler user guide",
        [
            FILLER * 3,
            "Pressure. The boiler pressure should read between 1 and 1.5 bar when cold. If it falls below 1 bar, open the "
            "filling loop until the gauge shows 1.2 bar. " + FILLER,
            "Error codes. Error E119 means the water pressure is too low. Error E133 means the gas supply is interrupted. "
            + FILLER,
            "Radiators. If a radiator is cold at the top, bleed it with the radiator key until water comes out. "
            "The radiator key is kept in the drawer under the kitchen sink. " + FILLER,
        ],
    ),
    "dishwasher_manual.pdf": (
        "Dishwasher manual",
        [
            FILLER * 2,
            "Filter. Clean the dishwasher filter once a week under running water. Twist the filter anticlockwise to "
            "remove it. " + FILLER,
            "Salt and rinse aid. Refill the salt container when the salt light comes on, using coarse dishwasher salt "
            "only. Error F21 means the drain pump is blocked. " + FILLER,
        ],
    ),
    "washing_machine_manual.pdf": (
        "Washing machine manual",
        [
            "Programmes. Wash wool on the wool programme at 30 degrees with a spin of 600. " + FILLER * 2,
            "Child lock. To switch the child lock on or off, hold the Temp and Spin buttons together for three seconds. "
            + FILLER,
            "Care. Clean the detergent drawer once a month. If the door stays locked after a wash, wait two minutes "
            "before opening it. " + FILLER,
        ],
    ),
    "car_handbook.pdf": (
        "Car handbook",
        [
            FILLER * 2,
            "Tyres. The tyre pressure is 2.4 bar at the front and 2.2 bar at the rear. " + FILLER,
            "Service. The car needs an oil service every 15,000 kilometres or once a year. The spare wheel is under the "
            "floor of the boot. " + FILLER,
        ],
    ),
}

NOTES_MD = """# Household notes

The stopcock for the water is under the kitchen sink, behind the bleach.

The fuse box is in the cupboard by the garage door.

Water the orchid every ten days with a glass of rain water.

The neighbours at number 12 are Anna and Tom, and their phone number is 0161 496 0738.

The bike lock combination is 4 7 1 9.

The dog's food is two scoops in the morning and one in the evening.
"""

WIFI_MD = """# Wifi

The home network is called Maple.

The guest wifi password is sunflower-42 and it works in the garden too.

To restart the router, hold the reset button on the back for ten seconds.
"""

BOILER_LETTER = """Dear customer,

Thank you for your contract with Warmhome Heating. Your annual boiler service is due on 14 March. Our engineer
will call a week before. For emergencies, call our heating helpline on 0800 555 0199.

Yours sincerely,
Warmhome Heating
"""

INSURANCE_LETTER = """Dear Ms Palmer,

Your home insurance policy with Harbour Mutual renews on 1 June. Your policy number is HX-44721. The yearly
premium is 312 pounds. To make a claim, call 0330 100 2468 and quote your policy number.

Kind regards,
Harbour Mutual
"""

VET_LETTER = """Dear owner of Biscuit,

Biscuit's booster vaccination is due on 3 May. Please book a visit at Riverside Vets. Biscuit weighs 14
kilograms and should have one worming tablet every three months.

Riverside Vets
"""

PANCAKES_TXT = """Grandma's pancakes

Whisk 200 grams of flour, 2 eggs and 300 millilitres of milk with a pinch of salt. Let the batter rest for
20 minutes. Fry each pancake for about one minute on each side.
"""

BINS_HTML = (
    "<html><head><title>Bin collection</title><style>p {color: red}</style></head><body><h1>Bins</h1>"
    "<p>Recycling is collected every Thursday morning.</p><p>Garden waste goes out on the first Monday of "
    "the month.</p><p>Glass goes to the bottle bank on Mill Lane.</p>"
    "<script>var x = 'Friday';</script></body></html>"
)

SCHOOL_HTML = (
    "<html><head><title>School term dates</title></head><body><h1>School term dates</h1>"
    "<p>The autumn term ends on 18 December.</p><p>The spring term starts on 6 January.</p>"
    "<p>The school office number is 01632 960 455.</p></body></html>"
)

FACTS = [
    # coffee machine manual
    Fact("how do I descale the coffee machine", "coffee_machine_manual.pdf", 3, ("citric acid",)),
    Fact("how often should the coffee machine be descaled", "coffee_machine_manual.pdf", 3, ("two months",)),
    Fact("what water goes in the coffee machine tank", "coffee_machine_manual.pdf", 2, ("cold",)),
    Fact("how do I clean the milk frother", "coffee_machine_manual.pdf", 4, ("warm water",)),
    Fact("what grinder setting for espresso", "coffee_machine_manual.pdf", 5, ("3",)),
    Fact("what grinder level do I use for filter coffee", "coffee_machine_manual.pdf", 5, ("6",)),
    # boiler guide
    Fact("what should the boiler pressure be", "boiler_guide.pdf", 2, ("1.5 bar",)),
    Fact("what do I do if the boiler pressure falls below 1 bar", "boiler_guide.pdf", 2, ("filling loop",)),
    Fact("what does error E119 mean on the boiler", "boiler_guide.pdf", 3, ("pressure",)),
    Fact("what does boiler error E133 mean", "boiler_guide.pdf", 3, ("gas",)),
    Fact("how do I bleed a radiator", "boiler_guide.pdf", 4, ("radiator key",)),
    Fact("where is the radiator key", "boiler_guide.pdf", 4, ("drawer",)),
    # dishwasher manual
    Fact("how often should I clean the dishwasher filter", "dishwasher_manual.pdf", 2, ("once a week",)),
    Fact("how do I take out the dishwasher filter", "dishwasher_manual.pdf", 2, ("anticlockwise",)),
    Fact("what salt goes in the dishwasher", "dishwasher_manual.pdf", 3, ("coarse",)),
    Fact("what does error F21 mean on the dishwasher", "dishwasher_manual.pdf", 3, ("pump",)),
    # washing machine manual
    Fact("how do I wash wool", "washing_machine_manual.pdf", 1, ("30",)),
    Fact("how do I turn off the child lock on the washing machine", "washing_machine_manual.pdf", 2, ("spin",)),
    Fact("how often should I clean the detergent drawer", "washing_machine_manual.pdf", 3, ("month",)),
    Fact(
        "the washing machine door is locked after the wash what do I do",
        "washing_machine_manual.pdf",
        3,
        ("two minutes",),
    ),
    # car handbook
    Fact("what is the tyre pressure for the front tyres", "car_handbook.pdf", 2, ("2.4",)),
    Fact("what pressure do the rear tyres need", "car_handbook.pdf", 2, ("2.2",)),
    Fact("how often does the car need an oil service", "car_handbook.pdf", 3, ("15,000",)),
    Fact("where is the spare wheel in the car", "car_handbook.pdf", 3, ("boot",)),
    # notes, wifi
    Fact("where is the stopcock", "household_notes.md", None, ("kitchen sink",)),
    Fact("where is the fuse box", "household_notes.md", None, ("garage",)),
    Fact("how often do I water the orchid", "household_notes.md", None, ("ten days",)),
    Fact("what is the neighbours' phone number", "household_notes.md", None, ("0738",)),
    Fact("what is the bike lock combination", "household_notes.md", None, ("4 7 1 9",)),
    Fact("how much food does the dog get", "household_notes.md", None, ("two scoops",)),
    Fact("what is the guest wifi password", "wifi.md", None, ("sunflower-42",)),
    Fact("how do I restart the router", "wifi.md", None, ("ten seconds",)),
    # letters, recipe, web pages
    Fact("when is the boiler service due", "letter_from_heating_company.txt", None, ("14 March",)),
    Fact("what is the number of the heating helpline", "letter_from_heating_company.txt", None, ("0199",)),
    Fact("what is our home insurance policy number", "insurance_letter.txt", None, ("HX-44721",)),
    Fact("when does the home insurance renew", "insurance_letter.txt", None, ("1 June",)),
    Fact("when is Biscuit's vaccination due", "vet_letter.txt", None, ("3 May",)),
    Fact("how much flour goes in the pancakes", "pancakes.txt", None, ("200",)),
    Fact("which day is the recycling collected", "bin_collection.html", None, ("Thursday",)),
    Fact("when does the autumn term end", "school_terms.html", None, ("18 December",)),
]

NOT_THERE = [
    "what is the dishwasher's warranty period",
    "how do I descale the washing machine",
    "when is the car's MOT due",
    "what is the password for the router admin page",
    "where is the spare key for the shed",
    "when does the summer term start",
    "what is the phone number of the dentist",
    "how long do I bake the bread",
    "what does error E200 mean on the boiler",
    "when is the window cleaner coming",
]
"""Questions the documents do not answer, written before any answering was tuned on them (their
results were then seen while the answering was tuned: see SEALED_NOT_THERE)."""

SEALED_NOT_THERE = [
    "when is the gas meter reading due",
    "how do I clean the oven",
    "what is the code for the front door",
    "where is the first aid kit",
    "how often should I change the car's wiper blades",
    "what does error F30 mean on the dishwasher",
    "when is the next parents' evening",
    "how much sugar goes in the pancakes",
    "what is the landlord's phone number",
    "how do I defrost the freezer",
]
"""Ten more the documents do not answer, written after NOT_THERE's results were seen and kept out of
all tuning: only the benchmark asks them."""


def write_pdf(path: Path, title: str, pages: list[str]) -> None:
    pdf = canvas.Canvas(str(path), pagesize=A4)
    pdf.setTitle(title)
    width, height = A4
    for text in pages:
        y = height - 60
        line = ""
        for word in text.split():
            if len(line) + len(word) > 90:
                pdf.drawString(50, y, line)
                y -= 14
                line = ""
            line = f"{line} {word}".strip()
        if line:
            pdf.drawString(50, y, line)
        pdf.showPage()
    pdf.save()


def make_household_docs(folder: Path) -> list[Fact]:
    folder.mkdir(parents=True, exist_ok=True)
    for name, (title, pages) in MANUALS.items():
        write_pdf(folder / name, title, pages)
    texts = {
        "household_notes.md": NOTES_MD,
        "wifi.md": WIFI_MD,
        "letter_from_heating_company.txt": BOILER_LETTER,
        "insurance_letter.txt": INSURANCE_LETTER,
        "vet_letter.txt": VET_LETTER,
        "pancakes.txt": PANCAKES_TXT,
        "bin_collection.html": BINS_HTML,
        "school_terms.html": SCHOOL_HTML,
    }
    for name, text in texts.items():
        (folder / name).write_text(text)
    return list(FACTS)
