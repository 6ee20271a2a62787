"""Issue 10.4: the mail server runs its content check (the PDF check) in its
own pool, so slow content checks never hold up SPF, DKIM and DMARC of the
next message. Before, both shared four threads: four slow PDFs stopped all
mail. Needs the simulated internet: run it in its own network namespace."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from simulators.mailserver import MailServer

from test_auth import signed_police_message
from test_mailserver import send

SLOW = "ZM-2026-000777"


def test_four_slow_content_checks_do_not_stop_the_next_message(internet, keten, pki, tmp_path):
    release, started = threading.Event(), threading.Semaphore(0)

    def content_check(content: bytes, auth) -> str | None:
        if SLOW.encode() in content:
            started.release()
            release.wait(30)  # a PDF check that takes long
        return None

    with MailServer.for_deelnemer(keten, "ggd-regio-utrecht", pki, tmp_path / "md",
                                  content_check=content_check) as server:
        slow = signed_police_message(keten, pki, subject=f"Melding {SLOW}")
        with ThreadPoolExecutor(4) as pool:
            pending = [pool.submit(send, slow) for _ in range(4)]
            try:
                for _ in range(4):
                    assert started.acquire(timeout=10), "de trage inhoudscontroles begonnen niet"
                send(signed_police_message(keten, pki))  # authenticated and stored meanwhile
                stored = server.wait_stored(1, timeout=10)
                assert len(stored) == 1 and SLOW.encode() not in stored[0].content
                assert stored[0].auth.dmarc.result == "pass"
            finally:
                release.set()
            for p in pending:
                p.result(timeout=30)
        server.wait_stored(5, timeout=10)
