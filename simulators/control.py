"""The small HTTP control API every simulator offers (docs/besturings-api.md).

JSON in, JSON out, on the simulator's own loopback address. Plain stdlib:
the API is a handful of routes, the same whether the simulator runs as a
process or in a container.

Every request carries ``Authorization: Bearer <token>``; the token is made per
run (:func:`new_token`) and kept in a file only its owner can read. Input is
checked before anything changes: a bounded body, finite numbers within bounds,
switches by their declared types (:func:`typed_changes`).
"""

from __future__ import annotations

import dataclasses
import enum
import hmac
import json
import math
import os
import secrets
import threading
import types
import typing
from collections.abc import Callable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ketentest.errors import InfrastructureError, KetentestError

Route = Callable[[dict[str, Any]], Any]

TOKEN_FILE = "besturing.token"
MAX_BODY_BYTES = 1024 * 1024
MAX_TIMEOUT = 600.0
#: Default bounds of a numeric switch (seconds, minutes, counts): finite, never negative.
DEFAULT_BOUNDS = (0.0, 1e6)


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


# -- the run's secret ---------------------------------------------------------------------------


def new_token(folder: Path) -> tuple[str, Path]:
    """A fresh secret in ``folder/besturing.token``, readable by its owner only."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / TOKEN_FILE
    token = secrets.token_urlsafe(32)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token, path


def read_token(path: Path) -> str:
    try:
        token = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as e:
        raise InfrastructureError(f"besturings-API: tokenbestand {path} is niet te lezen ({e})",
                                  "geef het bestand dat de keten bij de start schreef (besturing.token)") from None
    if len(token) < 16:
        raise InfrastructureError(f"besturings-API: tokenbestand {path} bevat geen geldig token",
                                  "laat de keten een nieuw token maken, of schrijf minstens 16 tekens")
    return token


# -- typed input --------------------------------------------------------------------------------


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _dutch(bound: float) -> str:
    """A bound as a Dutch reads it: 316.224.000, 0,5."""
    if float(bound).is_integer():
        return f"{int(bound):,}".replace(",", ".")
    return f"{bound:g}".replace(".", ",")


def _number(value: Any, lo: float, hi: float, integer: bool) -> float | int:
    """A finite number in [lo, hi], or ValueError saying what it must be."""
    if isinstance(value, str) and len(value) <= 40:  # a query string carries text
        try:
            value = int(value) if integer else float(value)
        except ValueError:
            pass
    kind = "een geheel getal" if integer else "een getal"
    span = f"van {_dutch(lo)} tot en met {_dutch(hi)}"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            integer and isinstance(value, float) and not value.is_integer()):
        raise ValueError(f"moet {kind} {span} zijn, kreeg {_show(value)}")
    if not math.isfinite(value) or not lo <= value <= hi:
        raise ValueError(f"moet {span} zijn, kreeg {_show(value)}")
    return int(value) if integer else float(value)


def number(value: Any, name: str, lo: float, hi: float, *, integer: bool = False) -> float | int:
    """A finite number in [lo, hi]: a JSON number or (from a query string) its text."""
    try:
        return _number(value, lo, hi, integer)
    except ValueError as e:
        raise ApiError(f"{name!r} {e}") from None


def param(params: Mapping[str, Any], name: str, default: float, lo: float, hi: float, *, integer: bool = False):
    """An optional numeric parameter (query string or body), checked by :func:`number`."""
    return default if params.get(name) is None else number(params[name], name, lo, hi, integer=integer)


def timeout_param(params: Mapping[str, Any], default: float = 30.0) -> float:
    """A long poll's ``timeout``: finite, 0 to 600 seconds."""
    return float(param(params, "timeout", default, 0, MAX_TIMEOUT))


def typed_changes(cls: type, changes: Mapping[str, Any], *, bounds: Mapping[str, tuple[float, float]] | None = None,
                  converters: Mapping[str, Callable[[Any], Any]] | None = None) -> dict[str, Any]:
    """Check ``changes`` against the fields of dataclass ``cls`` by their types
    (bool must be a bool; numbers finite and within ``bounds`` or DEFAULT_BOUNDS;
    enums by value; ``X | None``) and return the converted values. Raises
    ApiError on the first problem, so a caller applies all or nothing.
    ``converters`` handle fields of other types (raise ValueError to refuse)."""
    hints = typing.get_type_hints(cls)
    known = [f.name for f in dataclasses.fields(cls)]
    bounds, converters = bounds or {}, converters or {}
    if not isinstance(changes, Mapping):
        raise ApiError("verwacht een JSON-object met schakelaars")
    out: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in known:
            raise ApiError(f"onbekende schakelaar {_show(name)}; bekend: {', '.join(known)}")
        try:
            out[name] = _typed(hints[name], value, bounds.get(name, DEFAULT_BOUNDS), converters.get(name))
        except (ValueError, TypeError) as e:
            raise ApiError(f"schakelaar {name!r}: {e}") from None
    return out


def _typed(hint: Any, value: Any, bound: tuple[float, float], convert) -> Any:
    if convert is not None:
        return convert(value)
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        if value is None:
            return None
        (hint,) = [a for a in args if a is not type(None)]
    if hint is bool:
        if not isinstance(value, bool):
            raise ValueError(f"verwacht true of false, kreeg {_show(value)}")
        return value
    if hint in (int, float):
        if isinstance(value, str):  # a JSON body says what it means: "5" is not 5
            raise ValueError(f"verwacht een getal, kreeg de tekst {_show(value)}")
        return _number(value, *bound, integer=hint is int)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(value)
        except ValueError:
            raise ValueError(f"onbekende waarde {_show(value)}; kies uit: {', '.join(str(m.value) for m in hint)}") from None
    if hint is str:
        if not isinstance(value, str) or len(value) > 1000:
            raise ValueError(f"verwacht een tekst, kreeg {_show(value)}")
        return value
    raise ValueError(f"kan niet gezet worden via de API (type {hint})")


def _refuse_constant(name: str) -> Any:
    raise ApiError(f"{name} is geen getal in deze API; geef een eindig getal")


class ControlServer:
    """Serves ``routes`` {("GET", "/pad"): handler(params_or_body) -> JSON-able}.

    A path segment written ``{naam}`` matches anything and is passed in the
    handler's dict under that name.
    """

    def __init__(self, ip: str, port: int, routes: dict[tuple[str, str], Route], token: str) -> None:
        if len(token or "") < 16:
            raise ValueError("de besturings-API heeft een token van minstens 16 tekens nodig")
        self.ip, self.port, self.routes = ip, port, routes
        self._expected = f"Bearer {token}".encode()
        self._httpd: ThreadingHTTPServer | None = None

    def authorised(self, header: str | None) -> bool:
        return hmac.compare_digest((header or "").strip().encode("utf-8", "replace"), self._expected)

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
            timeout = 30  # a client that stalls mid-request loses its connection, not a thread forever

            def log_message(self, *args) -> None:  # quiet
                pass

            def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(jsonable(body), ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                if status >= 400:
                    self.close_connection = True  # an unread body must not become the next request
                    self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> dict[str, Any]:
                if self.headers.get("Transfer-Encoding"):
                    raise ApiError("stuur de body met Content-Length, niet in delen (Transfer-Encoding)",
                                   HTTPStatus.LENGTH_REQUIRED)
                text = (self.headers.get("Content-Length") or "0").strip()
                if not text.isdigit() or len(text) > 12:
                    raise ApiError(f"ongeldige Content-Length {text[:40]!r}: verwacht een aantal bytes")
                length = int(text)
                if length > MAX_BODY_BYTES:
                    raise ApiError(f"body van {length} bytes is groter dan {MAX_BODY_BYTES // 1024} KB",
                                   HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
                raw = self.rfile.read(length) if length else b""
                if len(raw) < length:
                    raise ApiError("de body is korter dan Content-Length zegt")
                body = json.loads(raw or b"{}", parse_constant=_refuse_constant)
                if not isinstance(body, dict):
                    raise ApiError("verwacht een JSON-object")
                return body

            def _handle(self, method: str) -> None:
                path, _, query = self.path.partition("?")
                if not server.authorised(self.headers.get("Authorization")):
                    self._reply(HTTPStatus.UNAUTHORIZED,
                                {"fout": "geen of een verkeerd token",
                                 "wat_te_doen": f"stuur 'Authorization: Bearer <token>'; het token staat in "
                                                f"{TOKEN_FILE} in de runmap van de keten"},
                                {"WWW-Authenticate": 'Bearer realm="ketentest"'})
                    return
                found = server.match(method, path)
                if found is None:
                    self._reply(HTTPStatus.NOT_FOUND, {"fout": f"onbekend: {method} {path[:100]}"})
                    return
                handler, params = found
                try:
                    if method == "POST":
                        params.update(self._body())
                    else:
                        from urllib.parse import parse_qsl

                        params.update(dict(parse_qsl(query)))
                    self._reply(HTTPStatus.OK, handler(params))
                except ApiError as e:
                    self._reply(e.status, {"fout": str(e)})
                except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
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
        self.port = self._httpd.server_address[1]  # the real one when asked for port 0
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name=f"control-{self.ip}", daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://{self.ip}:{self.port}"

    def __exit__(self, *exc) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
