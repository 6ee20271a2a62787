"""The small HTTP control API every simulator offers (docs/control-api.md).

JSON in, JSON out, on the simulator's own loopback address. Plain stdlib:
the API is a handful of routes, the same whether the simulator runs as a
process or in a container.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ketentest.errors import InfrastructureError, KetentestError

Route = Callable[[dict[str, Any]], Any]


def jsonable(value: Any) -> Any:
    """Typed results (dataclasses, enums, datetimes, bytes) as plain JSON."""
    import datetime as dt
    from dataclasses import fields, is_dataclass
    from enum import Enum

    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in fields(value) if f.repr}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    return value


class ApiError(Exception):
    """A client error with a status code and a Dutch message."""

    def __init__(self, message: str, status: int = HTTPStatus.BAD_REQUEST) -> None:
        super().__init__(message)
        self.status = status


class ControlServer:
    """Serves ``routes`` {("GET", "/pad"): handler(params_or_body) -> JSON-able}.

    A path segment written ``{naam}`` matches anything and is passed in the
    handler's dict under that name.
    """

    def __init__(self, ip: str, port: int, routes: dict[tuple[str, str], Route]) -> None:
        self.ip, self.port, self.routes = ip, port, routes
        self._httpd: ThreadingHTTPServer | None = None

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        parts = path.rstrip("/").split("/") or [""]
        for (m, pattern), handler in self.routes.items():
            want = pattern.rstrip("/").split("/")
            if m != method or len(want) != len(parts):
                continue
            params = {}
            for w, p in zip(want, parts):
                if w.startswith("{") and w.endswith("}"):
                    params[w[1:-1]] = p
                elif w != p:
                    break
            else:
                return handler, params
        return None

    def __enter__(self) -> "ControlServer":
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def _reply(self, status: int, body: Any) -> None:
                data = json.dumps(jsonable(body), ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                path, _, query = self.path.partition("?")
                found = server.match(method, path)
                if found is None:
                    self._reply(HTTPStatus.NOT_FOUND, {"fout": f"onbekend: {method} {path}"})
                    return
                handler, params = found
                try:
                    if method == "POST":
                        length = int(self.headers.get("Content-Length") or 0)
                        raw = self.rfile.read(length) if length else b"{}"
                        body = json.loads(raw or b"{}")
                        if not isinstance(body, dict):
                            raise ApiError("verwacht een JSON-object")
                        params.update(body)
                    else:
                        from urllib.parse import parse_qsl

                        params.update(dict(parse_qsl(query)))
                    self._reply(HTTPStatus.OK, handler(params))
                except ApiError as e:
                    self._reply(e.status, {"fout": str(e)})
                except (json.JSONDecodeError, UnicodeDecodeError):
                    self._reply(HTTPStatus.BAD_REQUEST, {"fout": "geen geldige JSON"})
                except KetentestError as e:
                    self._reply(HTTPStatus.UNPROCESSABLE_ENTITY, {"fout": e.message, "wat_te_doen": e.hint})
                except Exception as e:  # a bug in a simulator: say so, keep serving
                    import traceback

                    traceback.print_exc()
                    self._reply(HTTPStatus.INTERNAL_SERVER_ERROR,
                                {"fout": f"interne fout in de simulator: {e.__class__.__name__}: {e}",
                                 "wat_te_doen": "zie de log van de simulator; meld dit als fout in de ketentest"})

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

        try:
            self._httpd = ThreadingHTTPServer((self.ip, self.port), Handler)
        except OSError as e:
            raise InfrastructureError(f"besturings-API: adres {self.ip}:{self.port} is al in gebruik ({e.strerror})",
                                      "stop het andere proces op dat adres") from None
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, name=f"control-{self.ip}", daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://{self.ip}:{self.port}"

    def __exit__(self, *exc) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
