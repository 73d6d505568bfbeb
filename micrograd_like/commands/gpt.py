"""``python -m micrograd_like gpt``: train microgpt's model on names, sample new ones, save it.

The recipe is microgpt's (Karpathy, 2026): one name per step, shuffled by the seed; Adam with
lr 0.01, betas (0.85, 0.99), the learning rate falling linearly to 0; samples at temperature 0.5.
The names come from ``--data FILE`` or, by default, from the US Census first-name lists of the
``names`` package (``pip install "micrograd_like[gpt]"``). The same seed gives the same run, bit
for bit. The model is saved atomically as JSON (``GPT.from_file`` reads it back). ``--compiled``
takes each step's loss and gradients from ``gpt.CompiledLoss``: code compiled once per name
length, the same numbers as the eager step to rounding, many times faster.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from micrograd_like import gpt
from micrograd_like.commands import demo
from micrograd_like.commands.demo import INTERRUPTED, whole_number
from micrograd_like.gpt import GPT, NamesFileError, Tokenizer
from micrograd_like.optim import Adam

LEARNING_RATE = 0.01
BETAS = (0.85, 0.99)
TEMPERATURE = 0.5
MAX_STEPS = 1_000_000
MAX_SAMPLES = 10_000
MODEL_FILE = "gpt_model.json"


class _Parser(demo._Parser):
    """argparse, except that a refused command line is one line, ``gpt: ...``, and status 2."""

    command = "gpt"


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = _Parser(
        prog="python -m micrograd_like gpt",
        description="Train microgpt's GPT (1 layer, 16-dim embeddings, 4 heads, block size 16) "
        "on names, one name per step, then print new names and save the model as JSON.",
    )
    parser.add_argument(
        "--data",
        type=Path,
        help="a UTF-8 text file, one name per line (default: the US Census first names of the "
        f"'names' package: {gpt.NAMES_EXTRA})",
    )
    parser.add_argument(
        "--steps", type=whole_number(1, MAX_STEPS), default=1000, help="training steps (1000)"
    )
    parser.add_argument("--seed", type=whole_number(), default=42, help="(42)")
    parser.add_argument(
        "--samples", type=whole_number(0, MAX_SAMPLES), default=20, help="names to sample (20)"
    )
    parser.add_argument("--save", type=Path, default=Path(MODEL_FILE), help=f"({MODEL_FILE})")
    parser.add_argument(
        "--compiled",
        action="store_true",
        help="train through code compiled once per name length (micrograd_like.compiled)",
    )
    return parser.parse_args(list(argv))


def main(argv: Sequence[str]) -> int:
    """Run the command; returns the exit status (130, with one line, if Ctrl-C stops it)."""
    try:
        return run(parse_arguments(argv))
    except SystemExit as stop:  # --help, or a command line argparse refused
        return stop.code if isinstance(stop.code, int) else 2
    except KeyboardInterrupt:  # the model file is the old one or the new one: save is atomic
        print("gpt: interrupted", file=sys.stderr)
        return INTERRUPTED


def run(args: argparse.Namespace) -> int:
    """Load the names, train, sample and save as the command line asks; returns the status."""
    step_function = compiled_training_step() if args.compiled else training_step
    try:
        names = gpt.read_names(args.data) if args.data else gpt.census_names()
    except (NamesFileError, LookupError) as error:
        print(f"gpt: {error}", file=sys.stderr)
        return 1
    problem = _unwritable(args.save)  # found before training, not after it
    if problem:
        print(f"gpt: cannot write {args.save}: {problem}", file=sys.stderr)
        return 1
    try:
        model, losses = train(names, args.steps, args.seed, sys.stdout, step_function)
    except (ValueError, OverflowError) as error:  # an update would make a parameter inf or nan
        print(f"gpt: training diverged: {error}", file=sys.stderr)
        return 1
    try:
        model.save(args.save)
    except OSError as error:
        print(f"gpt: cannot write {args.save}: {error.strerror or error}", file=sys.stderr)
        return 1
    print(f"final loss {losses[-1]:.4f}; wrote {args.save}")
    rng = random.Random(args.seed)
    for i in range(args.samples):
        print(f"sample {i + 1:>{len(str(args.samples))}}: {gpt.sample(model, rng, TEMPERATURE)}")
    return 0


def _unwritable(path: Path) -> str:
    """Why no model file can go to ``path`` (a folder there, or no folder for it); '' if none."""
    if path.is_dir():
        return "it is a folder"
    return "" if path.parent.is_dir() else f"{path.parent} is not a folder"


StepFunction = Callable[[GPT, Adam, list[int], float], float]


def compiled_training_step() -> StepFunction:
    """A step like training_step whose loss and gradients come from compiled code, compiled
    the first time each name length comes up (so a run compiles at most block_size times)."""
    made: list[gpt.CompiledLoss] = []  # the one for the model being trained

    def step(model: GPT, optimizer: Adam, tokens: list[int], lr: float) -> float:
        if not made or made[0].model is not model:
            made[:] = [gpt.CompiledLoss(model)]
        loss, grads = made[0].value_and_grad(tokens)
        for p, g in zip(made[0].cache.params, grads, strict=True):
            p.grad = g
        optimizer.lr = lr
        optimizer.step()
        return loss

    return step


def training_step(model: GPT, optimizer: Adam, tokens: list[int], lr: float) -> float:
    """One eager step on one name: loss, backward, an Adam update at ``lr``; returns the loss."""
    loss = model.loss(tokens)
    optimizer.zero_grad()
    loss.backward()
    optimizer.lr = lr
    optimizer.step()
    return loss.data


def train(
    names: Sequence[str],
    steps: int,
    seed: int,
    stream: TextIO | None = None,
    step_function: StepFunction = training_step,
) -> tuple[GPT, list[float]]:
    """microgpt's training run: shuffle by ``seed``, then one name per step; returns the losses."""
    rng = random.Random(seed)
    docs = list(names)
    rng.shuffle(docs)
    tokenizer = Tokenizer.of(docs)
    model = GPT.of(tokenizer, rng=rng)
    optimizer = Adam(model.parameters(), lr=LEARNING_RATE, betas=BETAS)
    progress = Progress(steps, stream) if stream else None
    losses = []
    try:
        for step in range(steps):
            tokens = tokenizer.encode(docs[step % len(docs)])
            lr = LEARNING_RATE * (1 - step / steps)  # falls linearly to 0, as microgpt's
            losses.append(step_function(model, optimizer, tokens, lr))
            if progress:
                progress.show(step + 1, losses[-1], min(len(tokens) - 1, model.block_size))
    finally:
        if progress:
            progress.close()
    return model, losses


class Progress(demo.Progress):
    """A bar redrawn in place on a terminal (a plain line every tenth of the run otherwise)."""

    WIDTH = 20

    def __init__(self, steps: int, stream: TextIO) -> None:
        super().__init__(steps, stream)
        self.start = time.perf_counter()
        self.tokens = 0

    def show(self, step: int, loss: float, tokens: float) -> None:
        """After step ``step``, which predicted ``tokens`` tokens, with loss ``loss``."""
        self.tokens += int(tokens)
        rate = self.tokens / max(time.perf_counter() - self.start, 1e-9)
        done = self.WIDTH * step // self.steps
        bar = "#" * done + "." * (self.WIDTH - done)
        self.write(step, f"[{bar}] step {step:>{len(str(self.steps))}}/{self.steps}  "
                         f"loss {loss:.4f}  {rate:,.0f} tokens/s")  # fmt: skip
