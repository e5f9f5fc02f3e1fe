"""A real Chromium on the real server: the path a person takes, and the hostile article."""

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    # In CI the browser tests must run (and fail if chromium is missing); elsewhere they may
    # be skipped on a machine without chromium.
    pytest.mark.skipif(
        not CHROMIUM.exists() and os.environ.get("CI") != "true",
        reason="no /usr/bin/chromium on this machine",
    ),
]


@pytest.fixture(scope="module")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser) -> Iterator:
    """A fresh page that records dialogs and console errors (a CSP violation is one)."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.dialogs = []
    page.console_errors = []

    def on_dialog(dialog) -> None:
        page.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("console", lambda m: page.console_errors.append(m.text) if m.type == "error" else None)
    try:
        yield page
    finally:
        context.close()


def test_search_then_open_the_article_at_the_highlighted_passage(page, live_server):
    page.goto(live_server.url + "/")
    field = page.get_by_label("Rechercher dans les articles")
    field.fill("coopération sécuritaire")
    field.press("Enter")
    page.wait_for_selector("ol.hits li.hit")
    assert urlsplit(page.url).path == "/"
    assert page.locator("ol.hits mark").count() >= 2
    assert page.locator("ol.hits mark").first.inner_text() == "coopération sécuritaire"

    first = page.locator("ol.hits .hit-title a").first
    title = first.inner_text()
    with page.expect_navigation():
        first.click()
    fragment = urlsplit(page.url).fragment
    assert urlsplit(page.url).path == "/articles/cooperation-maroc"
    assert fragment.startswith("p")
    assert page.locator("h1").inner_text() == title
    target = page.locator(f"#{fragment}")
    assert "match" in target.get_attribute("class").split()
    assert target.locator("mark").first.inner_text() == "coopération sécuritaire"
    assert page.evaluate("document.querySelector(':target').id") == fragment
    assert target.is_visible()
    assert page.console_errors == []


def test_article_page_goes_to_the_first_match_when_no_passage_is_named(page, live_server):
    page.goto(live_server.url + "/articles/sahel-armee?q=coopération+sécuritaire")
    page.wait_for_function("window.location.hash !== ''")
    assert urlsplit(page.url).fragment == "p1"
    assert page.evaluate("document.querySelector(':target').id") == "p1"
    assert page.locator("#p1").get_attribute("class").split() == ["passage", "match"]
    # A named passage is left alone.
    page.goto(live_server.url + "/articles/sahel-armee?q=coopération+sécuritaire#p2")
    page.wait_for_load_state("load")
    page.wait_for_timeout(200)
    assert urlsplit(page.url).fragment == "p2"
    assert page.console_errors == []


def test_the_hostile_article_is_text_and_opens_no_dialog(page, live_server):
    page.goto(live_server.url + "/")
    field = page.get_by_label("Rechercher dans les articles")
    field.fill("chercheurs injectée")
    field.press("Enter")
    page.wait_for_selector("ol.hits li.hit")
    title = page.locator("ol.hits .hit-title a").first
    assert "<script>alert(1)</script>" in title.inner_text()
    assert "<img src=x onerror=alert(1)>" in title.inner_text()
    assert page.locator("ol.hits img").count() == 0
    with page.expect_navigation():
        title.click()
    page.wait_for_timeout(300)  # room for an injected handler to fire, if there were one
    assert "<script>alert(1)</script>" in page.locator("h1").inner_text()
    assert "<script>alert(1)</script>" in page.locator(".passages").inner_text()
    assert page.locator("main img").count() == 0
    assert page.dialogs == []
    assert page.console_errors == []


@pytest.mark.parametrize("query", ["x" * 300, "https://www.example.org/" + "chemin/" * 40])
def test_a_long_word_wraps_on_a_phone(page, live_server, query):
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(live_server.url + "/?" + urlencode({"q": query}))
    page.wait_for_load_state("load")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_the_keyboard_skips_the_timeline_and_filters_to_the_articles(page, live_server):
    page.goto(live_server.url + "/?q=gouvernement")
    page.wait_for_selector("ol.hits li.hit")
    assert page.locator("figure.timeline svg a").count() > 1  # stops the skip link jumps
    page.get_by_label("Rechercher dans les articles").focus()
    for _ in range(12):  # the form's fields, then the results' first link
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Aller aux articles trouvés":
            break
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    first = page.locator("ol.hits .hit-title a").first.get_attribute("href")
    assert page.evaluate("document.activeElement.getAttribute('href')") == first
    headings = page.eval_on_selector_all("h2, h3", "hs => hs.map(h => h.tagName + h.textContent)")
    assert headings.index("H2Articles trouvés") < headings.index(
        "H3" + page.locator("ol.hits .hit-title").first.inner_text()
    )
