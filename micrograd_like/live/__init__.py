"""Watch a network learn: ``live(model, (points, labels))`` serves a page that trains it live.

The page (the package's own HTML, JavaScript and CSS, nothing from the network) shows the decision
boundary with the points, the loss and accuracy curves, the graph of one example neuron by neuron
with data and gradient on every node, and the weights. The same page opens in a browser from
``python -m micrograd_like live`` and inline in Jupyter, where ``live`` returns a view that
displays itself as an iframe of the local server.
"""

from __future__ import annotations

import html
import weakref
from collections.abc import Sequence
from types import TracebackType

from micrograd_like.live.server import LiveServer
from micrograd_like.live.session import COMMANDS, IDLE_PAUSE, CommandError, Session
from micrograd_like.nn import MLP

__all__ = ["COMMANDS", "CommandError", "LiveView", "Session", "live"]


class LiveView:
    """A running live page: its ``url``, and ``close()`` to stop its server and training thread.

    In Jupyter it shows itself inline; it is also a context manager, and it stops by itself when
    garbage-collected or when Python exits.
    """

    def __init__(self, server: LiveServer, height: int = 760) -> None:
        self.server = server
        self.url = server.url
        self.height = height
        self._finalizer = weakref.finalize(self, server.stop)

    @property
    def session(self) -> Session:
        return self.server.session

    def close(self) -> None:
        """Stop training and serving; the port is free again when this returns."""
        self._finalizer()

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    def __enter__(self) -> LiveView:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def _repr_html_(self) -> str:
        if self.closed:
            return "<p>This live view is closed.</p>"
        src = html.escape(self.url, quote=True)
        return (
            f'<iframe src="{src}" title="micrograd_like live training" width="100%" '
            f'height="{self.height}" style="border:0"></iframe>'
        )

    def __repr__(self) -> str:
        return f"LiveView({self.url}{', closed' if self.closed else ''})"


def live(
    model: MLP,
    data: tuple[Sequence[Sequence[float]], Sequence[int]],
    *,
    lr: float = 0.05,
    port: int = 0,
    idle_pause: float = IDLE_PAUSE,
) -> LiveView:
    """Serve the live page for ``model`` trained on ``data = (points, labels)``, labels -1/+1.

    The run starts paused: press Play on the page. ``port=0`` picks a free port.
    """
    if not isinstance(data, tuple) or len(data) != 2:
        raise TypeError(f"live: data must be a tuple (points, labels), got {type(data).__name__}")
    session = Session(model, data[0], data[1], lr=lr, idle_pause=idle_pause)
    return LiveView(LiveServer(session, port).start())
