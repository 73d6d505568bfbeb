"""``python -m micrograd_like live``: train an MLP on a toy dataset while a local page shows it.

The page lives at http://127.0.0.1:PORT/ (never another interface) and opens in the default
browser unless ``--no-browser``. The run starts paused; Ctrl-C stops the training thread and the
server and exits with status 130.
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import webbrowser
from collections.abc import Callable, Sequence
from typing import NoReturn

from micrograd_like.commands.demo import (
    DATASETS,
    INTERRUPTED,
    make_split,
    real_number,
    whole_number,
)
from micrograd_like.live import live
from micrograd_like.live.session import MAX_POINTS
from micrograd_like.nn import MLP

MAX_WIDTH = 64  # neurons per hidden layer: wider layers no longer fit the page's graph
MAX_DEPTH = 4  # hidden layers


class _Parser(argparse.ArgumentParser):
    """argparse, except that a refused command line is one line, ``live: ...``, and status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"live: {message.removeprefix('argument ')}\n")


def layer_sizes(text: str) -> list[int]:
    """``16,16`` -> [16, 16]: the hidden layers' widths (the output neuron is added)."""
    parts = text.split(",")
    width = whole_number(1, MAX_WIDTH)
    try:
        sizes = [width(part.strip()) for part in parts]
    except argparse.ArgumentTypeError:
        sizes = []
    if not 1 <= len(sizes) <= MAX_DEPTH:
        raise argparse.ArgumentTypeError(
            f"expected 1 to {MAX_DEPTH} widths from 1 to {MAX_WIDTH} such as 16,16, got {text!r}"
        )
    return sizes


layer_sizes.__name__ = "hidden layer widths"


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = _Parser(
        prog="python -m micrograd_like live",
        description="Serve a page on 127.0.0.1 that trains an MLP on a toy dataset step by step "
        "and shows its decision boundary, loss, accuracy, weights and the graph of one example.",
    )
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="moons", help="(moons)")
    parser.add_argument(
        "--layers", type=layer_sizes, default=[16, 16], help="hidden layer widths (16,16)"
    )
    parser.add_argument(
        "--lr", type=real_number(1e-6, 10.0), default=0.05, help="Adam's learning rate (0.05)"
    )
    parser.add_argument(
        "--seed", type=whole_number(), default=0, help="seed for data and weights (0)"
    )
    parser.add_argument(
        "--points",
        type=whole_number(1, MAX_POINTS // 2),
        default=100,
        help=f"training points, 1 to {MAX_POINTS // 2:,} (100)",
    )
    parser.add_argument(
        "--port", type=whole_number(0, 65535), default=8765, help="0 picks a free port (8765)"
    )
    parser.add_argument("--no-browser", action="store_true", help="print the address only")
    return parser.parse_args(list(argv))


def main(argv: Sequence[str], wait: Callable[[], None] | None = None) -> int:
    """Serve until Ctrl-C (or until ``wait`` returns, for tests); returns the exit status."""
    try:
        args = parse_arguments(argv)
    except SystemExit as stop:  # --help, or a command line argparse refused
        return stop.code if isinstance(stop.code, int) else 2
    rng = random.Random(args.seed)
    split = make_split(args.dataset, args.points, 0.1, rng)
    model = MLP(2, [*args.layers, 1], rng=rng)
    try:
        view = live(model, (split.train_points, split.train_labels), lr=args.lr, port=args.port)
    except OSError as error:
        print(f"live: cannot serve on 127.0.0.1:{args.port}: {error.strerror}", file=sys.stderr)
        return 1
    try:
        print(f"live: serving {view.url} (Ctrl-C stops)", flush=True)
        if not args.no_browser:
            webbrowser.open(view.url)
        (wait or threading.Event().wait)()
    except KeyboardInterrupt:
        print("live: stopped", file=sys.stderr)
        return INTERRUPTED
    finally:
        view.close()
    return 0
