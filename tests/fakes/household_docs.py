"""A household's documents for tests and benchmarks, written by the test run: manuals as real PDFs
(reportlab; several pages, each fact on a known page), a note in Markdown, a web page saved as HTML and
a letter as plain text. `FACTS` says where each fact is."""

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
    """Words the right passage holds."""


FILLER = ("Read all safety instructions before use. Keep the appliance away from children. Unplug it before "
          "cleaning. The manufacturer is not liable for damage caused by improper use. Keep this manual. ")

MANUALS: dict[str, tuple[str, list[str]]] = {
    "coffee_machine_manual.pdf": ("Coffee machine manual", [
        "Welcome. " + FILLER * 3,
        "Filling the water tank. Use fresh cold water only. " + FILLER * 2,
        "Descaling. Descale the coffee machine every two months: dissolve 30 grams of citric acid in one litre of "
        "water, pour it into the tank and run the rinse programme twice. " + FILLER,
        "Cleaning the milk frother. Rinse the frother nozzle with warm water after every use. " + FILLER,
    ]),
    "boiler_guide.pdf": ("Boiler user guide", [
        FILLER * 3,
        "Pressure. The boiler pressure should read between 1 and 1.5 bar when cold. If it falls below 1 bar, open the "
        "filling loop until the gauge shows 1.2 bar. " + FILLER,
        "Error codes. Error E119 means the water pressure is too low. Error E133 means the gas supply is interrupted. "
        + FILLER,
    ]),
    "dishwasher_manual.pdf": ("Dishwasher manual", [
        FILLER * 2,
        "Filter. Clean the dishwasher filter once a week under running water. Twist the filter anticlockwise to "
        "remove it. " + FILLER,
    ]),
}

FACTS = [
    Fact("how do I descale the coffee machine", "coffee_machine_manual.pdf", 3, ("citric acid",)),
    Fact("what should the boiler pressure be", "boiler_guide.pdf", 2, ("1.5 bar",)),
    Fact("what does error E119 mean on the boiler", "boiler_guide.pdf", 3, ("E119",)),
    Fact("how often should I clean the dishwasher filter", "dishwasher_manual.pdf", 2, ("once a week",)),
    Fact("what is the guest wifi password", "wifi.md", None, ("sunflower-42",)),
    Fact("when is the boiler service due", "letter_from_heating_company.txt", None, ("14 March",)),
    Fact("which day is the recycling collected", "bin_collection.html", None, ("Thursday",)),
]


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
    (folder / "wifi.md").write_text("# Wifi\n\nThe home network is called Maple.\n\nThe guest wifi password is "
                                    "sunflower-42 and it works in the garden too.\n")
    (folder / "letter_from_heating_company.txt").write_text(
        "Dear customer,\n\nThank you for your contract with Warmhome Heating. Your annual boiler service is due on "
        "14 March. Our engineer will call a week before.\n\nYours sincerely,\nWarmhome Heating\n")
    (folder / "bin_collection.html").write_text(
        "<html><head><title>Bin collection</title><style>p {color: red}</style></head><body><h1>Bins</h1>"
        "<p>Recycling is collected every Thursday morning.</p><p>Garden waste goes out on the first Monday of "
        "the month.</p><script>var x = 'Friday';</script></body></html>")
    return list(FACTS)
