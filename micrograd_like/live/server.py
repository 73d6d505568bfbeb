"""The live view's HTTP server: the package's own four files, one state query, five commands.

The standard library's ``http.server`` is enough here and smaller to trust than a framework: the
server answers only 127.0.0.1, serves files from a fixed table (no path ever reaches the disk),
and refuses with a 4xx, before touching the session, any request whose Host is not this server
(DNS rebinding), any command whose Origin is not this server (cross-site requests), bodies over
1 KiB, JSON that is not one of the documented commands, and every other method or path.
"""

from __future__ import annotations

import json
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from micrograd_like.live.session import CommandError, Session

MAX_BODY = 1024  # bytes; the longest command, add_point, is under 100
STATIC = {  # path -> (file in micrograd_like/live/static, content type)
    "/": ("index.html", "text/html; charset=utf-8"),
    "/live.js": ("live.js", "text/javascript; charset=utf-8"),
    "/live.css": ("live.css", "text/css; charset=utf-8"),
    "/favicon.svg": ("favicon.svg", "image/svg+xml"),
}
# Only pages on this machine (a notebook on localhost, VS Code's notebook view) may frame the page.
CONTENT_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'self' http://localhost:* http://127.0.0.1:* vscode-webview:"
)


POLL = 0.05  # seconds between the server thread's looks at stop(): how long stop() waits


class LiveServer:
    """Serves one session on 127.0.0.1:``port`` (0: any free port) from a thread of its own."""

    def __init__(self, session: Session, port: int = 0) -> None:
        self.session = session
        self.httpd = _HTTPServer(("127.0.0.1", port), _Handler)
        self.httpd.session = session
        self.port: int = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self._thread = threading.Thread(
            target=self.httpd.serve_forever,
            args=(POLL,),
            name="micrograd_like-live-http",
            daemon=True,
        )
        self._stopped = False

    def start(self) -> LiveServer:
        self.session.start()
        self._thread.start()
        return self

    def stop(self) -> None:
        """End the training thread and the server; safe to call twice, from any thread."""
        if self._stopped:
            return
        self._stopped = True
        self.session.stop()
        if self._thread.is_alive():
            self.httpd.shutdown()
            self._thread.join(5.0)
        self.httpd.server_close()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a stuck client never keeps the program alive
    session: Session

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A page closed mid-answer is normal; anything else still prints its traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    server_version = "micrograd_like-live"
    sys_version = ""
    timeout = 10  # seconds a client may take to send its request
    error_content_type = "text/plain; charset=utf-8"
    error_message_format = "%(code)d %(message)s: %(explain)s\n"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a page polls several times a second."""

    def __getattr__(self, name: str) -> Any:
        """Any method but GET and POST (``do_PUT``, ``do_FOO``...) is refused with a 405."""
        if name.startswith("do_"):
            return self._not_allowed
        raise AttributeError(name)

    def _not_allowed(self) -> None:
        self._refuse(HTTPStatus.METHOD_NOT_ALLOWED, "only GET and POST are served")

    def do_GET(self) -> None:
        if not self._host_is_ours():
            return
        url = urlsplit(self.path)
        if url.path in STATIC and not url.query:
            name, kind = STATIC[url.path]
            body = resources.files("micrograd_like.live").joinpath(f"static/{name}").read_bytes()
            self._send(HTTPStatus.OK, body, kind)
        elif url.path == "/api/state":
            self._state(url.query)
        else:
            self._refuse(HTTPStatus.NOT_FOUND, f"no such page: {url.path[:80]!r}")

    def do_POST(self) -> None:
        if not self._host_is_ours() or not self._origin_is_ours():
            return
        if urlsplit(self.path).path != "/api/command" or "?" in self.path:
            self._refuse(HTTPStatus.NOT_FOUND, "commands go to /api/command")
            return
        body = self._body()
        if body is None:
            return
        try:
            name, arguments = _parse_command(body)
            self.server.session.command(name, arguments)
        except CommandError as refused:
            self._refuse(HTTPStatus(refused.status), str(refused))
            return
        self._send_json({"ok": True})

    def _state(self, query: str) -> None:
        try:
            fields = parse_qs(query, strict_parsing=bool(query), max_num_fields=2)
            unknown = set(fields) - {"since", "example"}
            if unknown or any(len(v) != 1 for v in fields.values()):
                raise CommandError(f"state takes since= and example= once each, got {query!r}")
            since = _whole(fields.get("since", ["0"])[0], "since")
            example = _whole(fields.get("example", ["0"])[0], "example")
            state = self.server.session.snapshot(since, example)
        except ValueError as refused:  # CommandError, or a query parse_qs refuses
            self._refuse(HTTPStatus.BAD_REQUEST, str(refused)[:200])
            return
        self._send_json(state)

    def _host_is_ours(self) -> bool:
        """DNS rebinding: a name that resolves to 127.0.0.1 still sends its own Host."""
        port = self.server.server_address[1]
        if self.headers.get("Host") in (f"127.0.0.1:{port}", f"localhost:{port}"):
            return True
        self._refuse(HTTPStatus.FORBIDDEN, "Host must be 127.0.0.1 or localhost with this port")
        return False

    def _origin_is_ours(self) -> bool:
        """A command must come from a page this server served (browsers send Origin on POST)."""
        if self.headers.get("Origin") == f"http://{self.headers.get('Host')}":
            return True
        self._refuse(HTTPStatus.FORBIDDEN, "commands are taken only from this server's own page")
        return False

    def _body(self) -> bytes | None:
        """The request's JSON body, or None once a 4xx has been sent."""
        if self.headers.get_content_type() != "application/json":
            self._refuse(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "commands are application/json")
            return None
        length = self.headers.get("Content-Length", "")
        if not (length.isascii() and length.isdigit()) or self.headers.get("Transfer-Encoding"):
            self._refuse(HTTPStatus.LENGTH_REQUIRED, "a command needs a Content-Length")
            return None
        if int(length) > MAX_BODY:
            self._refuse(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"a command is at most {MAX_BODY} B")
            return None
        try:
            return self.rfile.read(int(length))
        except TimeoutError:  # fewer bytes than announced: a 408, not a traceback
            self._refuse(HTTPStatus.REQUEST_TIMEOUT, "the command's body never came")
            return None

    def _send_json(self, document: dict[str, Any]) -> None:
        body = json.dumps(document, allow_nan=False, separators=(",", ":")).encode("utf-8")
        self._send(HTTPStatus.OK, body, "application/json")

    def _send(self, status: HTTPStatus, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Content-Security-Policy", CONTENT_POLICY)
        self.end_headers()
        self.wfile.write(body)

    def _refuse(self, status: HTTPStatus, why: str) -> None:
        self.close_connection = True
        self._send(status, json.dumps({"error": why}).encode("utf-8"), "application/json")


def _parse_command(body: bytes) -> tuple[str, dict[str, Any]]:
    """``{"command": name, ...arguments}`` from strict JSON (no NaN, no duplicate keys)."""
    try:
        document = json.loads(
            body.decode("utf-8"),
            parse_constant=_refuse_constant,
            object_pairs_hook=_unique_keys,
        )
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as problem:
        raise CommandError(f"a command is one JSON object: {problem}") from None
    if not isinstance(document, dict) or not isinstance(document.get("command"), str):
        raise CommandError('a command is a JSON object {"command": name, ...}')
    name = document.pop("command")
    return name, document


def _refuse_constant(name: str) -> Any:
    raise CommandError(f"{name} is not a number a command may carry")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        raise CommandError("a key appears twice in the command")
    return document


def _whole(text: str, name: str) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > 9:
        raise CommandError(f"state: {name} must be a whole number, got {text[:20]!r}")
    return int(text)
