"""The step viewer in headless Chromium: Next, the arrow keys and Previous move the highlight."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from micrograd_like.engine import Value
from micrograd_like.viz import render_steps
from tests.support import require_chromium, require_dot, require_playwright

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VISIBLE = "section.frame:not([hidden])"


@contextmanager
def chromium_page() -> Iterator[Any]:
    """A page of headless Chromium, closed afterwards (a playwright Page)."""
    chromium = require_chromium()
    require_playwright()  # skips on a developer machine without it, fails in CI, as dot does
    from playwright.sync_api import sync_playwright  # only these tests need a browser driver

    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser.new_page()
        finally:
            browser.close()


def test_step_viewer_moves_the_highlight_with_buttons_and_arrow_keys(tmp_path: Path) -> None:
    require_dot()
    x, w = Value(2.0, label="x"), Value(-0.5, label="w")
    product = x * w
    product.label = "p"
    out = product.tanh()  # order: x (n0), w (n1), p (n2), out (n3); tanh's edge comes first
    out.label = "out"
    page_path = render_steps(out, tmp_path / "steps")

    with chromium_page() as page:
        page.goto(page_path.as_uri())

        def shown() -> tuple[str | None, str, str]:
            frame = page.locator(VISIBLE)
            assert frame.count() == 1
            current = frame.locator("g.node.current title").text_content() or ""
            receiving = frame.locator("g.node.receiving title")
            return (
                frame.get_attribute("data-step"),
                current,
                (receiving.text_content() or "") if receiving.count() else "",
            )

        assert shown() == ("0", "n3", "")
        assert page.locator("#prev").is_disabled()
        assert page.locator(f"{VISIBLE} svg").bounding_box() is not None

        page.click("#next")  # step 1: out (tanh) passes its gradient to p
        assert shown() == ("1", "n3", "n2")
        assert page.locator("#position").inner_text() == "step 1 of 3"
        assert "local derivative" in page.locator(VISIBLE).inner_text()

        page.keyboard.press("ArrowRight")  # step 2: p (*) passes gradient to x
        assert shown() == ("2", "n2", "n0")
        grad_cell = page.locator(f"{VISIBLE} table.numbers tr").nth(3).locator("td")
        assert grad_cell.inner_text() == "-0.5"  # d(x*w)/dx = w

        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")  # already at the last step: stays there
        assert shown() == ("3", "n2", "n1")
        assert page.locator("#next").is_disabled()

        page.keyboard.press("ArrowLeft")
        page.click("#prev")
        assert shown() == ("1", "n3", "n2")


def test_step_viewer_inline_in_a_notebook_steps_inside_its_frame(tmp_path: Path) -> None:
    require_dot()
    x, w = Value(2.0, label="x"), Value(-0.5, label="w")
    out = (x * w).tanh()
    shown = render_steps(out, tmp_path / "steps")._repr_html_()
    assert shown is not None
    notebook = tmp_path / "notebook.html"  # what Jupyter puts in the page: the iframe alone
    notebook.write_text(f"<!DOCTYPE html><html><body>{shown}</body></html>", encoding="utf-8")

    with chromium_page() as page:
        page.goto(notebook.as_uri())
        viewer = page.frame_locator("iframe")
        assert viewer.locator(VISIBLE).get_attribute("data-step") == "0"
        assert viewer.locator(f"{VISIBLE} svg").count() == 1
        viewer.locator("#next").click()
        assert viewer.locator(VISIBLE).get_attribute("data-step") == "1"
        assert viewer.locator("#position").inner_text() == "step 1 of 3"
        assert "1 - " in viewer.locator(VISIBLE).inner_text()  # tanh's local, written out
