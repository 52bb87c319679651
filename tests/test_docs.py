"""The documentation: a short README, a site that builds with --strict, references generated from the
code with nothing left undocumented, and the example skill of the guide installed and run for real."""

from __future__ import annotations

import dataclasses
import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.core import events
from assistant.core.config import Config, load_config

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "docs" / "hooks"))
import reference  # noqa: E402


def test_the_readme_is_short_and_its_links_exist() -> None:
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) < 150
    local = [t for t in __import__("re").findall(r"\]\(([^)#]+)\)", text) if not t.startswith("http")]
    assert local, "the README links to the guides in docs/"
    for target in local:
        assert (ROOT / target).exists(), target


def test_the_site_builds_with_strict(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(BIN / "mkdocs"), "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert done.returncode == 0, done.stderr[-4000:]
    configuration = (tmp_path / "site" / "reference" / "configuration" / "index.html").read_text()
    assert "ASSISTANT__STT__MODEL" in configuration and "wyoming.max_clients" in configuration
    assert "device_found" in (tmp_path / "site" / "reference" / "events" / "index.html").read_text()
    assert (
        "Remembers when each plant was last watered."
        in (tmp_path / "site" / "writing-a-skill" / "index.html").read_text()
    )


def test_every_setting_has_a_docstring_for_the_reference() -> None:
    defaults = load_config(environ={})
    undocumented = [
        f"{section.name}.{f.name}"
        for section in dataclasses.fields(Config)
        for f in dataclasses.fields(type(getattr(defaults, section.name)))
        if f.name not in reference.field_docs(type(getattr(defaults, section.name)))
    ]
    assert undocumented == []


def test_every_event_and_its_fields_have_a_docstring_for_the_reference() -> None:
    base = {f.name for f in dataclasses.fields(events.Event)}
    missing = []
    for _, cls in inspect.getmembers(events, inspect.isclass):
        if not issubclass(cls, events.Event) or cls is events.Event:
            continue
        docs = reference.inherited_field_docs(cls)
        if not reference.class_doc(cls):
            missing.append(cls.type)
        missing += [f"{cls.type}.{f.name}" for f in dataclasses.fields(cls) if f.name not in base | set(docs)]
    assert missing == []


@pytest.fixture
def ask(tmp_path: Path):  # type: ignore[no-untyped-def]
    env = {**os.environ, "ASSISTANT__UNDERSTANDING__PLANNER": "false"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "assistant"), *args, "--data-dir", str(tmp_path / "data")],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
            stdin=subprocess.DEVNULL,
        )

    return run


def test_the_guides_example_skill_installs_and_answers(ask) -> None:  # type: ignore[no-untyped-def]
    installed = ask("skills", "install", str(ROOT / "examples" / "skills" / "plants"), "--yes")
    assert installed.returncode == 0 and "plants: installed and enabled" in installed.stdout, installed.stderr
    assert ask("ask", "I watered the basil").stdout.strip() == "Noted: the basil was watered."
    last = ask("ask", "when did I last water the basil").stdout.strip()
    assert last.startswith("You last watered the basil today at "), last
    assert ask("ask", "when was the fern last watered").stdout.strip() == "I have no note of watering the fern."
    audited = ask("audit", "--last", "5")
    assert "plants.watered" in audited.stdout and "plants.last_watered" in audited.stdout
