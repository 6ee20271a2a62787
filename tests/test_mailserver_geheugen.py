"""The mail server's memory stays flat with traffic (issue 10, point 9a): the
list of stored messages keeps only small metadata, and a message's content is
read from the Maildir when asked for. Before, the last 1,000 messages were
kept whole in memory (about 9 GB at the cap for 9 MB mails).

Binds the keten's fixed addresses: run it in its own network namespace."""

from __future__ import annotations

import gc
import types

from simulators.mailserver import MailServer

from test_auth import signed_police_message
from test_mailserver import send


def test_stored_content_is_read_from_disk_on_demand(internet, keten, pki, tmp_path):
    with MailServer.for_deelnemer(keten, keten.meldpunten[0], pki, tmp_path / "maildir") as server:
        send(signed_police_message(keten, pki))
        (stored,) = server.wait_stored(1)
        assert stored.content == stored.path.read_bytes() == server.store.read(stored.key)
        stored.path.write_bytes(stored.content.replace(b"Kenmerk: ZM-2026-000123", b"Kenmerk: ZM-2026-999999"))
        assert b"ZM-2026-999999" in server.stored()[0].content  # not a copy held in memory
        moved = stored.path.parent.parent / "cur" / f"{stored.key}:2,S"  # as a Maildir reader files it
        stored.path.rename(moved)
        assert server.stored()[0].content == moved.read_bytes()


def held_bytes(root) -> int:
    """Bytes in bytes-like objects reachable from ``root`` (its own data, not
    modules or classes): what keeping ``root`` keeps in memory."""
    seen, total, pending = set(), 0, [root]
    while pending:
        obj = pending.pop()
        if id(obj) in seen or isinstance(obj, (type, types.ModuleType, types.FunctionType)):
            continue
        seen.add(id(obj))
        if isinstance(obj, (bytes, bytearray, memoryview)):
            total += len(obj)
        else:
            pending.extend(gc.get_referents(obj))
    return total


def test_memory_does_not_grow_with_the_size_of_stored_messages(internet, keten, pki, tmp_path):
    big = signed_police_message(keten, pki, pdf_size=2 * 1024 * 1024)
    with MailServer.for_deelnemer(keten, keten.meldpunten[0], pki, tmp_path / "maildir") as server:
        for _ in range(3):
            send(big)
        stored = server.wait_stored(3)
        held = held_bytes(stored)
        assert server.stored_count == 3 and all(m.kept is None for m in stored)
        assert all(len(m.content) > len(big) for m in stored)  # still all there, from disk
    # 3 messages of 2.7 MB: kept whole that would be over 8 MB
    assert held < 100 * 1024, f"{held / 2**20:.1f} MB vastgehouden voor 3 berichten"
