"""The companion page in real headless Chromium (Debian's, driven by Playwright): pairing, a
screenshot at phone size, push-to-talk with a fake microphone playing a rendered command, a device
toggle that updates live, a page without a token that sees nothing, "Unpair" offered for this phone
only unless it is the admin, the household's voices shown to an admin phone only, and, with the assistant's root installed, a trusted page whose service
worker runs (the page installs as an app)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from assistant.audio.wav import write_wav
from assistant.devices.model import BRIGHTNESS, ON_OFF, Found
from testbed import speech as sf
from testbed.fakes.wled_api import FakeWled
from testbed.web import PHONE, Page, launch_chromium, open_phone, pair_in_browser, start_page, stop_page, trust_root

pytestmark = pytest.mark.browser


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Page]:
    p = start_page(tmp_path / "data")
    yield p
    stop_page(p)


def test_pairing_at_phone_size_and_no_token_sees_nothing(page: Page, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            tab = open_phone(browser, page.https)
            tab.goto(page.https)
            assert tab.get_by_role("heading", name="Pair this phone").is_visible()
            assert not tab.locator("#app").is_visible()
            # A wrong code is refused with a message, and nothing is shown.
            tab.get_by_label("Pairing code").fill("ZZZZZZ")
            tab.get_by_role("button", name="Pair").click()
            tab.get_by_text("wrong or has expired").wait_for()
            # Without the token the API answers 401, whatever the page asks.
            assert tab.evaluate("fetch('/api/state').then(r => r.status)") == 401
            pair_in_browser(tab, page, page.https)
            assert tab.evaluate("fetch('/api/state').then(r => r.status)") == 200
            shot = tmp_path / "phone.png"
            tab.screenshot(path=str(shot), full_page=False)
            with Image.open(shot) as image:
                assert image.size == (PHONE["width"] * 2, PHONE["height"] * 2)
            # Nothing overflows sideways on a small screen.
            assert tab.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            # A fresh browser (no cookie) is back at pairing.
            other = open_phone(browser, page.https)
            other.goto(page.https)
            other.get_by_role("heading", name="Pair this phone").wait_for()
        finally:
            browser.close()


def test_with_its_root_installed_the_page_is_trusted_and_installs_as_an_app(page: Page, tmp_path: Path) -> None:
    """The root from the pairing page in the browser's NSS database (as a phone installs it once), no
    certificate errors ignored: the page loads, and its service worker registers and becomes active,
    which Chromium refuses behind a certificate it does not trust."""
    from playwright.sync_api import Error, sync_playwright

    assert page.server.certificate is not None
    home = tmp_path / "home"
    trust_root(home, page.server.certificate.ca_der())
    with sync_playwright() as pw:
        untrusting = launch_chromium(pw, home=tmp_path / "bare")
        try:
            with pytest.raises(Error, match="ERR_CERT"):  # the same page without the root: refused
                open_phone(untrusting, page.https, ignore_https_errors=False).goto(page.https)
        finally:
            untrusting.close()
        browser = launch_chromium(pw, home=home)
        try:
            tab = open_phone(browser, page.https, ignore_https_errors=False)
            response = tab.goto(page.https)
            assert response is not None and response.ok
            assert tab.evaluate("window.isSecureContext")
            tab.get_by_text(page.server.certificate.ca_fingerprint).wait_for()  # shown beside the root's link
            assert tab.get_by_role("link", name="download the root certificate").get_attribute("href") == "/ca.crt"
            state = tab.evaluate("""navigator.serviceWorker.ready.then((r) => new Promise((done) => {
                const w = r.active;
                if (w.state === "activated") done(w.state);
                else w.addEventListener("statechange", () => { if (w.state === "activated") done(w.state); });
            }))""")
            assert state == "activated"
            assert (
                tab.evaluate("navigator.serviceWorker.getRegistration().then((r) => r.active.scriptURL)")
                == page.https + "sw.js"
            )
        finally:
            browser.close()


def admin_phone(browser: Any, page: Page) -> Any:
    """A second phone, "Boss", paired in the browser with an admin code."""
    boss = open_phone(browser, page.https)
    boss.goto(page.https)
    boss.get_by_label("Pairing code").fill(page.new_code(admin=True))
    boss.get_by_label("Name for this phone").fill("Boss")
    boss.get_by_role("button", name="Pair").click()
    return boss


def test_unpair_is_offered_for_this_phone_only_unless_it_is_the_admin(page: Page) -> None:
    from playwright.sync_api import sync_playwright

    page.pair("Kitchen phone")
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            tab = open_phone(browser, page.https)
            pair_in_browser(tab, page, page.https)
            tab.get_by_text("Kitchen phone").wait_for()
            assert tab.get_by_role("button", name="Unpair this phone").is_visible()
            assert tab.get_by_role("button", name="Unpair Kitchen phone").count() == 0
            boss = admin_phone(browser, page)
            unpair_kitchen = boss.get_by_role("button", name="Unpair Kitchen phone")
            unpair_kitchen.wait_for()
            boss.once("dialog", lambda dialog: dialog.accept())
            unpair_kitchen.click()
            boss.get_by_text("Kitchen phone").wait_for(state="detached")
            assert [p.name for p in page.server.phones.all()] == ["Test phone", "Boss"]
            # This phone unpairs itself from its page, and is back at pairing.
            tab.once("dialog", lambda dialog: dialog.accept())
            tab.get_by_role("button", name="Unpair this phone").click()
            tab.get_by_role("heading", name="Pair this phone").wait_for()
            assert [p.name for p in page.server.phones.all()] == ["Boss"]
        finally:
            browser.close()


def test_an_admin_phone_sees_the_voices_and_forgets_one_and_other_phones_see_none(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from assistant.people.voiceprints import Person, Voiceprints
    from assistant.trust.vault import Vault

    data = tmp_path / "data"
    for i, name in enumerate(("Anna", "Ben")):
        vector = np.zeros(256, np.float32)
        vector[i] = 1.0
        Voiceprints(data, Vault(data).derived_key("voiceprints")).save(Person(name, "adult", vector, 0.0, 3))
    page = start_page(data)
    try:
        with sync_playwright() as pw:
            browser = launch_chromium(pw)
            try:
                tab = open_phone(browser, page.https)
                pair_in_browser(tab, page, page.https)
                tab.get_by_text("Test phone").wait_for()
                assert not tab.locator("#voices-card").is_visible() and tab.get_by_text("Anna · adult").count() == 0
                boss = admin_phone(browser, page)
                bens_role = boss.get_by_role("combobox", name="Ben's role")
                bens_role.wait_for()
                assert boss.get_by_role("combobox", name="Anna's role").input_value() == "adult"
                boss.once("dialog", lambda dialog: dialog.accept())
                bens_role.select_option("child")
                household = page.core.household
                assert household is not None
                deadline = time.monotonic() + 10
                while household.find("Ben").role != "child" and time.monotonic() < deadline:  # type: ignore[union-attr]
                    time.sleep(0.1)
                assert household.find("Ben").role == "child"  # type: ignore[union-attr]
                boss.once("dialog", lambda dialog: dialog.accept())
                boss.get_by_role("button", name="Forget Ben's voice").click()
                boss.get_by_role("combobox", name="Ben's role").wait_for(state="detached")
                assert [p.name for p in household.people()] == ["Anna"]
            finally:
                browser.close()
    finally:
        stop_page(page)


@pytest.mark.slow_model
def test_push_to_talk_with_a_fake_microphone(tmp_path: Path, speech_models: Any) -> None:
    from playwright.sync_api import sync_playwright

    clip = tmp_path / "command.wav"
    speech = sf.piper("Set a timer for ten minutes.")
    write_wav(clip, np.concatenate([sf.silence(1.5), speech, sf.silence(1.0)]), sf.SAMPLE_RATE)
    hold_s = 1.5 + len(speech) / sf.SAMPLE_RATE + 0.6
    page = start_page(tmp_path / "data", speech_models)
    try:
        with sync_playwright() as pw:
            browser = launch_chromium(pw, clip)
            try:
                tab = open_phone(browser, page.https)  # the address a phone uses, its certificate our own
                pair_in_browser(tab, page, page.https)
                button = tab.get_by_role("button", name="Hold to talk")
                button.hover()
                tab.mouse.down()
                tab.wait_for_timeout(int(hold_s * 1000))
                tab.mouse.up()
                tab.locator("#log .said").first.wait_for(timeout=30000)
                heard = tab.locator("#log .heard").first.text_content() or ""
                assert "timer" in heard.lower(), heard
                assert [t.duration_s for t in page.core.scheduler.timers()] == [600]
                # The timer appears and counts down.
                count = tab.locator("#timers .count").first
                count.wait_for()
                first = count.text_content()
                tab.wait_for_timeout(1500)
                assert count.text_content() != first and (first or "").startswith(("10:", "9:"))
                # The reply's audio reached the page.
                tab.wait_for_function("() => (window.__replyAudio || 0) > 22050 * 0.5", timeout=15000)
            finally:
                browser.close()
    finally:
        stop_page(page)


def test_device_toggle_updates_live(page: Page) -> None:
    from playwright.sync_api import sync_playwright

    # The wled client library speaks to port 80 only, as real WLED listens: a loopback address of its own.
    lamp = FakeWled("Desk lamp", "127.0.0.77", port=80, on=False, brightness=128)
    page.run(lamp.start())
    page.stops.append(lamp.stop)
    page.run(_register(page, lamp))
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            tab = open_phone(browser, page.https)
            pair_in_browser(tab, page, page.https)
            toggle = tab.get_by_role("button", name="Desk lamp: off")
            toggle.click()
            tab.get_by_role("button", name="Desk lamp: on").wait_for()
            assert lamp.state["on"] is True
            # Someone else turns it off (a spoken or typed request): the page follows without a reload.
            page.run(page.core.dialogue.handle("turn off the desk lamp"))
            tab.get_by_role("button", name="Desk lamp: off").wait_for(timeout=5000)
            assert lamp.state["on"] is False
            slider = tab.get_by_label("Desk lamp brightness")
            slider.fill("40")
            tab.wait_for_function("() => document.querySelector('[data-device] input[type=range]').value === '40'")
            page.wait_for(lambda: abs(lamp.state["bri"] - 102) <= 3)
            # A routine's switch: off on the page, off in the assistant, and back.
            tab.get_by_role("button", name="bedtime runs on its own: on").click()
            tab.get_by_role("button", name="bedtime runs on its own: off").wait_for(timeout=5000)
            assert not page.core.routines.enabled("bedtime")
            tab.get_by_role("button", name="bedtime runs on its own: off").click()
            tab.get_by_role("button", name="bedtime runs on its own: on").wait_for(timeout=5000)
            assert page.core.routines.enabled("bedtime")
        finally:
            browser.close()


async def _register(page: Page, lamp: FakeWled) -> None:
    found = Found(f"wled:{lamp.mac}", lamp.name, "wled", "light", "FOSS", (ON_OFF, BRIGHTNESS), lamp.host, lamp.port)
    page.core.devices.registry.seen(found)


def test_a_knowledge_answer_shows_its_passage(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from testbed.fakes.household_docs import make_household_docs

    docs = make_household_docs(tmp_path / "Documents") and tmp_path / "Documents"
    page = start_page(tmp_path / "data", env={"ASSISTANT__FOLDERS__DOCUMENTS": str(docs)})
    try:
        assert page.core.knowledge is not None and page.core.knowledge.scan().added == 13
        with sync_playwright() as pw:
            browser = launch_chromium(pw)
            try:
                tab = open_phone(browser, page.https)
                pair_in_browser(tab, page, page.https)
                tab.get_by_label("Type a request").fill("how do I descale the coffee machine")
                tab.get_by_role("button", name="Send").click()
                source = tab.get_by_text("From Coffee machine manual, page 3")
                source.wait_for(timeout=15000)
                passage = tab.locator(".log .source blockquote")
                assert not passage.is_visible(), "the passage opens on a tap"
                source.click()
                assert "citric acid" in passage.inner_text()
                tab.get_by_text("From the coffee machine manual, page 3. ").wait_for()
            finally:
                browser.close()
    finally:
        stop_page(page)
