"""The live view's server and session: its files, five commands, and every request it refuses."""

from __future__ import annotations

import gc
import http.client
import json
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from micrograd_like.commands import live as live_command
from micrograd_like.data import make_moons
from micrograd_like.engine import Value, topological_order
from micrograd_like.live import LiveView, Session, live
from micrograd_like.nn import MLP

ROOT = Path(__file__).resolve().parent.parent


def small_model(seed: int = 0) -> MLP:
    return MLP(2, [6, 6, 1], rng=random.Random(seed))


def moons(n: int = 24) -> tuple[list[list[float]], list[int]]:
    return make_moons(n, 0.1, rng=1)


@pytest.fixture
def view() -> Iterator[LiveView]:
    started = live(small_model(), moons())
    try:
        yield started
    finally:
        started.close()


def call(
    view: LiveView,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One raw request with exactly the given headers (http.client adds only Host, unless given)."""
    connection = http.client.HTTPConnection("127.0.0.1", view.server.port, timeout=10)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        sent = {"Host": f"127.0.0.1:{view.server.port}", **(headers or {})}
        for name, value in sent.items():
            if value is not None:
                connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def command(view: LiveView, document: Any, **headers: str) -> int:
    """POST a command as the page does; returns the status."""
    body = json.dumps(document).encode("utf-8")
    sent = {
        "Origin": f"http://127.0.0.1:{view.server.port}",
        "Content-Type": "application/json",
        "Content-Length": str(len(body)),
        **headers,
    }
    return call(view, "POST", "/api/command", body, sent)[0]


def state(view: LiveView, query: str = "") -> dict[str, Any]:
    status, _, body = call(view, "GET", f"/api/state{query}")
    assert status == 200, body
    document: dict[str, Any] = json.loads(body)
    return document


def observable(view: LiveView) -> tuple[Any, ...]:
    """What a refused request must leave as it was."""
    s = view.session
    return (s.steps, s.playing, s.speed, len(s.points), [p.data for p in s.model.parameters()])


def wait_until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def live_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("micrograd_like-live")]


# --- files --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "name", "kind"),
    [
        ("/", "index.html", "text/html; charset=utf-8"),
        ("/live.js", "live.js", "text/javascript; charset=utf-8"),
        ("/live.css", "live.css", "text/css; charset=utf-8"),
        ("/favicon.svg", "favicon.svg", "image/svg+xml"),
    ],
)
def test_live_serves_the_package_files_under_a_strict_content_policy(
    view: LiveView, path: str, name: str, kind: str
) -> None:
    status, headers, body = call(view, "GET", path)
    assert status == 200
    assert body == resources.files("micrograd_like.live").joinpath(f"static/{name}").read_bytes()
    assert headers["Content-Type"] == kind
    assert headers["X-Content-Type-Options"] == "nosniff"
    policy = headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    assert "connect-src 'self'" in policy  # the page talks to this server and nothing else


def test_live_page_loads_nothing_from_elsewhere() -> None:
    static = resources.files("micrograd_like.live").joinpath("static")
    for name in ("index.html", "live.js", "live.css"):
        text = static.joinpath(name).read_text(encoding="utf-8")
        assert "//" not in text.replace("http://www.w3.org/2000/svg", "").replace("// ", ""), (
            name
        )  # no URL to any other host (a comment's "// " aside)


@pytest.mark.parametrize(
    "path",
    [
        "/../pyproject.toml",
        "/%2e%2e/server.py",
        "/static/live.js",
        "/live/server.py",
        "/index.html",
        "//etc/passwd",
        "/live.js/../../etc/passwd",
        "/live.js?v=1",
        "/api/command",
        "/" + "a" * 5000,
    ],
)
def test_live_serves_no_path_outside_its_table(view: LiveView, path: str) -> None:
    status, _, body = call(view, "GET", path)
    assert status == 404
    assert b"import" not in body and b"root:" not in body


@pytest.mark.parametrize("host", ["evil.example", f"evil.example:{0}", "127.0.0.1", "", None])
def test_live_refuses_a_foreign_host_header_against_dns_rebinding(
    view: LiveView, host: str | None
) -> None:
    headers: dict[str, Any] = {"Host": host}
    before = observable(view)
    assert call(view, "GET", "/", headers=headers)[0] == 403
    assert call(view, "GET", "/api/state", headers=headers)[0] == 403
    assert command(view, {"command": "play"}, Host=host or "x") == 403
    assert observable(view) == before


def test_live_takes_localhost_as_its_own_name(view: LiveView) -> None:
    port = view.server.port
    assert call(view, "GET", "/", headers={"Host": f"localhost:{port}"})[0] == 200
    origin = f"http://localhost:{port}"
    assert command(view, {"command": "step"}, Host=f"localhost:{port}", Origin=origin) == 200


@pytest.mark.parametrize(
    "origin", ["http://evil.example", "null", "https://127.0.0.1", "http://127.0.0.1:1", ""]
)
def test_live_refuses_commands_from_another_origin(view: LiveView, origin: str) -> None:
    before = observable(view)
    assert command(view, {"command": "play"}, Origin=origin) == 403
    assert observable(view) == before


def test_live_refuses_a_command_without_an_origin(view: LiveView) -> None:
    body = b'{"command": "play"}'
    headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
    assert call(view, "POST", "/api/command", body, headers)[0] == 403
    assert not view.session.playing


BAD_COMMANDS: list[tuple[bytes, str | None, int]] = [  # body, content type, status
    (b"{not json", "application/json", 400),
    (b"\xff\xfe", "application/json", 400),
    (b"[]", "application/json", 400),
    (b'"play"', "application/json", 400),
    (b'{"command": 3}', "application/json", 400),
    (b'{"command": "train_forever"}', "application/json", 400),
    (b'{"command": "__init__"}', "application/json", 400),
    (b'{"command": "play", "extra": 1}', "application/json", 400),
    (b'{"command": "play", "command": "pause"}', "application/json", 400),
    (b'{"command": "speed", "steps_per_second": 0}', "application/json", 400),
    (b'{"command": "speed", "steps_per_second": 1e9}', "application/json", 400),
    (b'{"command": "speed", "steps_per_second": true}', "application/json", 400),
    (b'{"command": "speed", "steps_per_second": NaN}', "application/json", 400),
    (b'{"command": "add_point", "x": 1e999, "y": 0, "label": 1}', "application/json", 400),
    (b'{"command": "add_point", "x": 1000, "y": 0, "label": 1}', "application/json", 400),
    (b'{"command": "add_point", "x": "1", "y": 0, "label": 1}', "application/json", 400),
    (b'{"command": "add_point", "x": 0, "y": 0, "label": 0}', "application/json", 400),
    (b'{"command": "add_point", "x": 0, "y": 0, "label": true}', "application/json", 400),
    (b'{"command": "add_point", "x": 0, "y": 0}', "application/json", 400),
    (b"[" * 100_0 + b"]" * 100_0, "application/json", 413),
    (b'{"command": "play"}', "text/plain", 415),
    (b'{"command": "play"}', None, 415),
]


@pytest.mark.parametrize(("body", "kind", "status"), BAD_COMMANDS)
def test_live_refuses_a_malformed_command_and_changes_nothing(
    view: LiveView, body: bytes, kind: str | None, status: int
) -> None:
    before = observable(view)
    headers: dict[str, Any] = {
        "Origin": f"http://127.0.0.1:{view.server.port}",
        "Content-Type": kind,
        "Content-Length": str(len(body)),
    }
    got, _, answer = call(view, "POST", "/api/command", body, headers)
    assert got == status, answer
    assert "error" in json.loads(answer)
    assert observable(view) == before


def test_live_refuses_a_huge_body_before_reading_it(view: LiveView) -> None:
    headers = {
        "Origin": f"http://127.0.0.1:{view.server.port}",
        "Content-Type": "application/json",
        "Content-Length": str(10**12),  # announced, never sent: the answer must not wait for it
    }
    assert call(view, "POST", "/api/command", b"{}", headers)[0] == 413


@pytest.mark.parametrize("length", [None, "-1", "1e3", "²"])
def test_live_refuses_a_command_without_a_plain_length(view: LiveView, length: str | None) -> None:
    headers: dict[str, Any] = {
        "Origin": f"http://127.0.0.1:{view.server.port}",
        "Content-Type": "application/json",
        "Content-Length": length,
    }
    assert call(view, "POST", "/api/command", None, headers)[0] == 411


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "FOO"])
def test_live_refuses_other_methods(view: LiveView, method: str) -> None:
    before = observable(view)
    assert call(view, method, "/api/command")[0] == 405
    assert observable(view) == before


@pytest.mark.parametrize(
    "query",
    ["?since=-1", "?since=abc", "?since=99", "?example=24", "?example=1.5", "?other=1",
     "?since=0&since=0", "?since=%C2%B2", "?since=0&example=0&x=1", "?&&"],
)  # fmt: skip
def test_live_refuses_a_bad_state_query(view: LiveView, query: str) -> None:
    status, _, body = call(view, "GET", f"/api/state{query}")
    assert status == 400, body


def test_live_refuses_a_command_to_another_path(view: LiveView) -> None:
    headers = {"Origin": f"http://127.0.0.1:{view.server.port}", "Content-Type": "application/json"}
    for path in ("/api/state", "/", "/api/command?x=1"):
        assert call(view, "POST", path, b"{}", {**headers, "Content-Length": "2"})[0] == 404


# --- commands and state -------------------------------------------------------------------------


def test_live_starts_paused_and_takes_single_steps(view: LiveView) -> None:
    time.sleep(0.2)
    assert state(view)["step"] == 0 and not view.session.playing
    assert command(view, {"command": "step"}) == 200
    assert command(view, {"command": "step"}) == 200
    wait_until(lambda: view.session.steps == 2)
    time.sleep(0.2)
    assert state(view)["step"] == 2  # paused again after the steps asked for


def test_live_play_trains_until_pause_and_the_loss_falls(view: LiveView) -> None:
    assert command(view, {"command": "speed", "steps_per_second": 100}) == 200
    assert command(view, {"command": "play"}) == 200
    wait_until(lambda: view.session.steps >= 20)
    assert command(view, {"command": "pause"}) == 200
    stopped_at = view.session.steps
    time.sleep(0.3)
    seen = state(view)
    assert seen["step"] == stopped_at and not seen["playing"] and seen["speed"] == 100
    losses = seen["losses"]
    assert len(losses) == stopped_at
    assert losses[-1] < 0.7 * losses[0]
    assert len(seen["accuracies"]) == stopped_at


def test_live_state_sends_only_the_losses_since_the_step_asked_for(view: LiveView) -> None:
    for _ in range(3):
        command(view, {"command": "step"})
    wait_until(lambda: view.session.steps == 3)
    everything = state(view)["losses"]
    assert state(view, "?since=2")["losses"] == everything[2:]
    assert state(view, "?since=3")["losses"] == []


def test_live_add_point_appends_a_training_point(view: LiveView) -> None:
    assert command(view, {"command": "add_point", "x": 0.25, "y": -1.5, "label": -1}) == 200
    seen = state(view, "?example=24")
    assert seen["points"][24] == [0.25, -1.5] and seen["labels"][24] == -1
    assert len(seen["scores"]) == 25
    assert seen["example"]["index"] == 24


def test_live_refuses_points_past_the_limit() -> None:
    from micrograd_like.live import session

    with live(small_model(), moons(session.MAX_POINTS)) as full:
        document = {"command": "add_point", "x": 0, "y": 0, "label": 1}
        assert command(full, document) == 409
        assert len(full.session.points) == session.MAX_POINTS


def test_live_example_gradients_are_those_of_its_loss_term(view: LiveView) -> None:
    session = view.session
    scores = session.scores
    # a point inside the margin, so its term relu(1 - y * score) is not flat
    index = next(k for k, y in enumerate(session.labels) if y * scores[k] < 1)
    example = state(view, f"?example={index}")["example"]
    point, label = session.points[index], session.labels[index]

    def term(x1: float, x2: float) -> float:
        out = session.model([x1, x2])
        assert isinstance(out, Value)
        return max(0.0, 1 - label * out.data)

    h = 1e-6
    numeric = [
        (term(point[0] + h, point[1]) - term(point[0] - h, point[1])) / (2 * h),
        (term(point[0], point[1] + h) - term(point[0], point[1] - h)) / (2 * h),
    ]
    got = [node["grad"] for node in example["inputs"]]
    assert got == pytest.approx(numeric, rel=1e-4, abs=1e-7)
    (output,) = example["layers"][-1]
    assert output["grad"] == -label  # d relu(1 - y*s)/ds inside the margin
    assert output["data"] == pytest.approx(scores[index])
    assert example["loss"]["data"] == pytest.approx(1 - label * scores[index])
    for layer in example["layers"][:-1]:
        for neuron in layer:  # a ReLU passes its gradient only where its input is positive
            assert neuron["data"] == max(0.0, neuron["pre"])
            assert neuron["pre_grad"] == (neuron["grad"] if neuron["pre"] > 0 else 0.0)


def test_live_example_leaves_the_batch_gradients_alone(view: LiveView) -> None:
    command(view, {"command": "step"})
    wait_until(lambda: view.session.steps == 1)
    grads = [p.grad for p in view.session.model.parameters()]
    state(view, "?example=3")
    assert [p.grad for p in view.session.model.parameters()] == grads
    shown = state(view)["layers"][0]
    assert shown["weight_grads"][0][0] == view.session.model.layers[0].neurons[0].w[0].grad


def test_live_diverging_run_pauses_with_a_message() -> None:
    with live(small_model(), moons(), lr=1e300) as view:
        command(view, {"command": "step"})
        command(view, {"command": "step"})
        wait_until(lambda: bool(view.session.error))
        assert "training stopped at step" in state(view)["error"]
        assert not view.session.playing


# --- threads: one per session, idle when nobody looks, gone after close -------------------------


def test_live_pauses_itself_when_no_page_asks() -> None:
    with live(small_model(), moons(), idle_pause=0.3) as view:
        command(view, {"command": "play"})
        wait_until(lambda: view.session.steps >= 1)
        wait_until(lambda: not view.session.playing, seconds=5)
        steps = view.session.steps
        time.sleep(0.3)
        assert view.session.steps == steps and view.session.running


def test_live_requests_leave_no_thread_behind(view: LiveView) -> None:
    before = threading.active_count()
    for _ in range(30):
        state(view)
    wait_until(lambda: threading.active_count() <= before, seconds=5)
    assert len(live_threads()) == 2  # the training thread and the server's


def test_live_close_ends_both_threads_and_frees_the_port() -> None:
    view = live(small_model(), moons())
    port = view.server.port
    command(view, {"command": "play"})
    view.close()
    view.close()  # twice is fine
    assert live_threads() == [] and view.closed
    assert "closed" in view._repr_html_() and "closed" in repr(view)
    with socket.socket() as again:  # as a server binds: the closed connections' TIME_WAIT aside
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))


def test_live_view_garbage_collected_stops_its_threads() -> None:
    view = live(small_model(), moons())
    del view
    gc.collect()
    assert live_threads() == []


def test_live_view_shows_itself_in_jupyter_as_an_iframe_of_its_server(view: LiveView) -> None:
    html = view._repr_html_()
    assert html.startswith(f'<iframe src="http://127.0.0.1:{view.server.port}/"')


@pytest.mark.parametrize(
    ("model", "data", "error"),
    [
        (MLP(3, [4, 1]), moons(), ValueError),
        (MLP(2, [4, 2]), moons(), ValueError),
        ("model", moons(), TypeError),
        (MLP(2, [4, 1]), [[[0, 0]], [1]], TypeError),
        (MLP(2, [4, 1]), ([[0, 0]], [0]), ValueError),
        (MLP(2, [4, 1]), ([[0, 0]], [1, 1]), ValueError),
        (MLP(2, [4, 1]), ([], []), ValueError),
        (MLP(2, [4, 1]), ([[0, float("nan")]], [1]), ValueError),
    ],
)
def test_live_refuses_a_model_or_data_it_cannot_show(model: Any, data: Any, error: type) -> None:
    with pytest.raises(error, match="live"):
        Session(model, *data) if isinstance(data, tuple) else live(model, data)
    assert live_threads() == []


# --- the command line ---------------------------------------------------------------------------


def test_live_command_serves_until_interrupted(capsys: pytest.CaptureFixture[str]) -> None:
    def interrupt() -> None:
        url = capsys.readouterr().out.split("serving ", 1)[1].split()[0]
        port = int(url.rsplit(":", 1)[1].strip("/"))
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("GET", "/")
        assert connection.getresponse().status == 200
        raise KeyboardInterrupt

    argv = ["--no-browser", "--port", "0", "--layers", "4", "--points", "10"]
    assert live_command.main(argv, wait=interrupt) == 130
    assert "live: stopped" in capsys.readouterr().err
    assert live_threads() == []


@pytest.mark.parametrize(
    "argv",
    [["--layers", "0,3"], ["--layers", "16,x"], ["--layers", "1,1,1,1,1"], ["--layers", "65"],
     ["--port", "70000"], ["--lr", "nan"], ["--dataset", "iris"], ["--points", "0"]],
)  # fmt: skip
def test_live_command_refuses_a_bad_command_line(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert live_command.main(argv) == 2
    assert capsys.readouterr().err.startswith("live: ")


def test_live_command_says_when_the_port_is_taken(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        assert live_command.main(["--no-browser", "--port", port]) == 1
    assert f"cannot serve on 127.0.0.1:{port}" in capsys.readouterr().err


def test_live_command_stops_cleanly_on_ctrl_c() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "micrograd_like", "live", "--no-browser", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("live: serving http://127.0.0.1:")
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=10)
    finally:
        process.kill()
    assert process.returncode == 130
    assert err == "live: stopped\n"  # no traceback from any thread


def test_live_diverged_model_still_answers_state_without_an_example() -> None:
    with live(small_model(), moons()) as view:
        for p in view.session.model.parameters():
            p.data = 1e200  # every score overflows to inf
        seen = state(view)
        assert seen["example"] is None


def test_live_listens_on_127_0_0_1_only_and_pauses_unwatched_after_a_minute(
    view: LiveView,
) -> None:
    assert view.server.httpd.server_address[0] == "127.0.0.1"
    assert view.session.idle_pause == 60.0


def test_live_trains_on_the_demo_loss_hinge_plus_l2() -> None:
    points, labels = moons()
    with live(small_model(), (points, labels)) as view:
        model = view.session.model
        weights = [p.data for p in model.parameters()]
        scores = view.session.scores
        hinge = sum(max(0.0, 1 - y * s) for s, y in zip(scores, labels, strict=True)) / len(labels)
        expected = hinge + 1e-4 * sum(w * w for w in weights)
        command(view, {"command": "step"})
        wait_until(lambda: view.session.steps == 1)
        assert view.session.losses[0] == pytest.approx(expected, rel=1e-12)
        assert view.session.optimizer.lr == 0.05


def test_live_command_opens_the_page_in_the_browser_unless_told_not_to(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", opened.append)
    assert live_command.main(["--port", "0"], wait=lambda: None) == 0
    url = capsys.readouterr().out.split("serving ", 1)[1].split()[0]
    assert opened == [url] and url.startswith("http://127.0.0.1:")
    assert live_command.main(["--port", "0", "--no-browser"], wait=lambda: None) == 0
    assert opened == [url]


def test_live_command_defaults_are_the_readme_s() -> None:
    args = live_command.parse_arguments([])
    assert (args.port, args.lr, args.layers, args.dataset, args.points) == (
        8765,
        0.05,
        [16, 16],
        "moons",
        100,
    )
    assert live_command.parse_arguments(["--points", "1000", "--layers", "64,1,1,1"]).points == 1000


def test_live_value_level_graph_of_one_example_has_about_400_nodes() -> None:
    model = MLP(2, [16, 16, 1], rng=random.Random(0))
    score = model([Value(0.3), Value(0.1)])
    assert isinstance(score, Value)
    term = (1 - score).relu()
    assert 350 < len(topological_order(term)) < 450  # why the page draws neurons instead


def test_live_answers_408_to_a_body_shorter_than_announced(
    view: LiveView, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from micrograd_like.live import server

    monkeypatch.setattr(server._Handler, "timeout", 0.2)
    headers = {
        "Origin": f"http://127.0.0.1:{view.server.port}",
        "Content-Type": "application/json",
        "Content-Length": "100",
    }
    assert call(view, "POST", "/api/command", b'{"command": "play"}', headers)[0] == 408
    assert not view.session.playing
    assert "Traceback" not in capsys.readouterr().err
