"""The live page in Chromium: it trains, a click adds a point, pause stops, tabs come and go."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import pytest

from micrograd_like.commands.demo import Frame
from micrograd_like.data import make_moons
from micrograd_like.live import live
from micrograd_like.nn import MLP
from tests.support import require_chromium, require_playwright
from tests.test_live import live_threads
from tests.test_step_viewer_browser import CHROMIUM_ARGS

CANVAS = 380  # px, the boundary canvas's size in index.html


def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the page"
        time.sleep(0.03)


def test_live_page_trains_adds_points_pauses_and_survives_refresh_and_tabs() -> None:
    chromium = require_chromium()
    require_playwright()  # skips on a developer machine without it, fails in CI, as dot does
    from playwright.sync_api import Page, sync_playwright  # only browser tests need a driver

    points, labels = make_moons(40, 0.1, rng=3)
    model = MLP(2, [8, 8, 1], rng=random.Random(0))  # a step takes ~25 ms, 2-16-16-1 ~100
    with live(model, (points, labels), idle_pause=0.5) as view, sync_playwright() as driver:
        session = view.session
        session.command("speed", {"steps_per_second": 100})  # as fast as it can
        browser = driver.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_ARGS
        )
        problems: list[str] = []

        def open_page() -> Page:
            page = context.new_page()
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.goto(view.url)
            return page

        def shown(page: Page, name: str) -> str:
            return page.locator("body").get_attribute(f"data-{name}") or ""

        try:
            context = browser.new_context(viewport={"width": 1280, "height": 1000})
            page = open_page()
            wait_for(lambda: shown(page, "step") == "0")

            # the boundary is drawn in the page from the weights: its scores are the model's
            layers = [
                {
                    "activation": layer.activation,
                    "weights": [[w.data for w in n.w] for n in layer.neurons],
                    "biases": [n.b.data for n in layer.neurons],
                }
                for layer in model.layers
            ]
            in_page: Any = page.evaluate(
                "([layers, points]) => points.map((p) => window.liveScore(layers, p))",
                [layers, points],
            )
            assert in_page == pytest.approx(session.scores, rel=1e-12, abs=1e-12)

            page.click("#step")  # one step, then the loss falls as it plays
            wait_for(lambda: shown(page, "step") == "1")
            first_loss = float(shown(page, "loss"))
            page.click("#play")
            wait_for(lambda: int(shown(page, "step")) >= 10)
            assert float(shown(page, "loss")) < 0.5 * first_loss
            assert page.locator("#pause").is_enabled() and page.locator("#play").is_disabled()

            page.click("#pause")  # pause stops updates
            wait_for(lambda: shown(page, "playing") == "false")
            paused_at = shown(page, "step")
            time.sleep(0.4)
            assert shown(page, "step") == paused_at == str(session.steps)

            frame = Frame.around(points)

            def pixel(point: list[float]) -> tuple[float, float]:
                x = (point[0] - frame.left) / frame.size * CANVAS
                return x, CANVAS - (point[1] - frame.bottom) / frame.size * CANVAS

            # a click on empty space adds a point of the chosen class where it was clicked
            page.check("input[name=new-class][value='-1']")
            page.click("#boundary", position={"x": 4, "y": 4})
            wait_for(lambda: shown(page, "points") == "41")
            assert session.labels[-1] == -1
            assert pixel(session.points[-1]) == pytest.approx((4, 4), abs=1.0)

            # a click on a point shows its graph: a point inside the margin, so gradients flow
            chosen = next(k for k, y in enumerate(labels) if y * session.scores[k] < 1)
            x, y = pixel(points[chosen])
            page.click("#boundary", position={"x": x, "y": y})
            wait_for(lambda: shown(page, "example") == str(chosen))
            assert f"(point {chosen}:" in page.locator("#example-name").inner_text()
            assert page.locator("#graph g.node").count() == 2 + 8 + 8 + 1 + 1
            out = page.locator("#graph g.node[data-name='L3.N1'] rect").get_attribute("fill")
            red, _, blue = (int(c) for c in (out or "")[4:-1].split(","))
            # d relu(1 - y*s)/ds = -y: blue (negative) for class +1, red for class -1
            assert (blue > red) == (labels[chosen] > 0)
            assert page.locator("#weights rect").count() == 8 * 3 + 8 * 9 + 9
            example = session.snapshot(0, chosen)["example"]
            dead = sum(n["pre"] <= 0 for layer in example["layers"][:-1] for n in layer)
            assert page.locator("#graph g.node.dead").count() == dead  # faded ReLUs
            first_weight = model.layers[0].neurons[0].w[0].data  # x1 -> L1.N1, the first line
            stroke = page.locator("#graph line").first.get_attribute("stroke")
            assert stroke == ("#e66101" if first_weight > 0 else "#5e3c99")  # orange / purple

            page.reload()  # a refresh picks up the run where it is, with no new thread
            wait_for(lambda: shown(page, "step") == paused_at)
            assert len(live_threads()) == 2

            second = open_page()  # a second tab sees the same run, and its commands reach both
            wait_for(lambda: shown(second, "step") == paused_at)
            second.click("#step")
            wait_for(lambda: shown(page, "step") == str(int(paused_at) + 1))
            second.close()
            page.click("#step")  # a closed tab leaves the other working
            wait_for(lambda: shown(page, "step") == str(int(paused_at) + 2))

            page.click("#play")  # with every tab closed the run pauses itself
            wait_for(lambda: session.playing)
            page.close()
            wait_for(lambda: not session.playing, seconds=5)
            assert len(live_threads()) == 2 and session.running
        finally:
            browser.close()
        assert problems == []
    assert live_threads() == []
