"""Open a report in real headless Chromium: the rendered DOM, a screenshot,
and every console message (script errors, failed loads).

Chromium runs without network (every host name resolves to nothing) and
with a throw-away profile. Script errors and console output are captured;
failed outside loads are not logged at this level, so check a page's URLs on
its DOM. Debian package: ``chromium``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ketentest.errors import InfrastructureError

NAMES = ("chromium", "chromium-browser", "google-chrome")
_CONSOLE = re.compile(r":CONSOLE(?:\(\d+\)|:\d+)\]\s*(.*)")


def find_chromium() -> str | None:
    return next((p for p in map(shutil.which, NAMES) if p), None)


@dataclass(frozen=True)
class BrowserRun:
    stdout: str
    console: tuple[str, ...]  # console messages, including uncaught script errors
    stderr: str


def _run(page: Path, extra: list[str], timeout: float) -> BrowserRun:
    exe = find_chromium()
    if exe is None:
        raise InfrastructureError("Chromium ontbreekt", "installeer het Debian-pakket chromium (scripts/bootstrap)")
    with tempfile.TemporaryDirectory(prefix="ketentest-chromium-") as profile:
        argv = [
            exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
            f"--user-data-dir={profile}", "--host-resolver-rules=MAP * ~NOTFOUND",
            "--enable-logging=stderr", "--v=0", "--hide-scrollbars", *extra, page.resolve().as_uri(),
        ]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise InfrastructureError(f"Chromium reageerde niet binnen {timeout:.0f} s op {page}") from e
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise InfrastructureError(f"Chromium stopte met code {done.returncode}:\n{tail}")
    console = tuple(m.group(1) for line in done.stderr.splitlines() if (m := _CONSOLE.search(line)))
    return BrowserRun(done.stdout, console, done.stderr)


def dump_dom(page: Path, timeout: float = 120) -> BrowserRun:
    """The DOM after loading (stdout) and the console messages."""
    return _run(page, ["--dump-dom"], timeout)


def screenshot(page: Path, png: Path, width: int = 1280, height: int = 2400, timeout: float = 120) -> BrowserRun:
    run = _run(page, [f"--screenshot={png.resolve()}", f"--window-size={width},{height}"], timeout)
    if not png.is_file() or png.stat().st_size == 0:
        raise InfrastructureError(f"Chromium maakte geen schermafdruk in {png}")
    return run
