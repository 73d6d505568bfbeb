"""The command line: ``python -m micrograd_like COMMAND``, one module per command (see COMMANDS)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

# Each command lives in its own module, imported only when used, so ``demo`` never pays for
# graphviz and ``bench`` never pays for plotting.
COMMANDS = {
    "demo": (
        "micrograd_like.commands.demo",
        "train an MLP on two moons and save the model and a picture",
    ),
    "draw": (
        "micrograd_like.commands.draw",
        "draw the graph of an expression such as 'tanh(x*w + b)'",
    ),
    "bench": ("micrograd_like.commands.bench", "time the engine beside micrograd and plain Python"),
    "check-engine": (
        "micrograd_like.commands.check_engine",
        "check any micrograd-style engine's gradients",
    ),
    "gpt": ("micrograd_like.commands.gpt", "train microgpt's GPT on names and sample new ones"),
    "live": ("micrograd_like.commands.live", "watch an MLP learn on a local page, step by step"),
}


def usage() -> str:
    lines = ["usage: python -m micrograd_like COMMAND [--help]", "", "commands:"]
    lines += [f"  {name:<6} {summary}" for name, (_, summary) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns its exit status (2 for a command line that makes no sense)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    status: int = module.main(rest)
    return status


if __name__ == "__main__":
    sys.exit(main())
