"""A party's quarantine: received messages it will not act on (not
registered as a melding, not counted as a confirmation), each with its
reason, indexed by the kenmerk it claims.

The message itself moves from the MX's inbox to its quarantine Maildir
folder (as a mail client's MOVE would), so ``mailbox.Maildir`` shows it
there too; a JSON record per message keeps the reason durably, and the
index is rebuilt from those records after a restart.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from ketentest.mail.compose import claimed_kenmerken
from simulators.control import param, timeout_param
from simulators.mailserver.store import Folder, MaildirStore, StoredMessage
from simulators.store import fsync_dir, read_json, write_json


def message_facts(stored: StoredMessage, folder: Folder, path: Path) -> dict[str, Any]:
    """What the control API tells about one stored message (not its bytes)."""
    return {"sleutel": stored.key, "map": folder.value, "pad": str(path), "van": stored.mail_from,
            "client_ip": stored.client_ip, "tls_versie": stored.tls_version, "tls_cipher": stored.tls_cipher,
            "authentication_results": stored.auth.header}


class Quarantine:
    def __init__(self, directory: Path, store: MaildirStore) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.store = store
        self._lock = threading.Condition()
        self._records: list[dict[str, Any]] = []
        self._by_kenmerk: dict[str, list[dict[str, Any]]] = {}
        for record in sorted((read_json(p) for p in self.dir.glob("*.json")), key=lambda r: r.get("op") or 0):
            self._index(record)

    def _index(self, record: dict[str, Any]) -> None:
        self._records.append(record)
        for kenmerk in record.get("kenmerken") or ():
            self._by_kenmerk.setdefault(kenmerk, []).append(record)

    def add(self, stored: StoredMessage, reason: str, at: float) -> dict[str, Any]:
        """Quarantine a stored message: move it to the quarantine folder (if
        it is in the inbox) and record why, filed under every kenmerk it
        claims. Durable before it returns."""
        kenmerken = claimed_kenmerken(stored.content)
        path = stored.path
        if stored.folder is Folder.INBOX:
            target = self.store.folder_path(Folder.QUARANTINE) / "new" / stored.key
            os.rename(path, target)
            fsync_dir(target.parent)
            fsync_dir(path.parent)
            path = target
        record = {**message_facts(stored, Folder.QUARANTINE, path), "kenmerken": kenmerken, "reden": reason, "op": at}
        with self._lock:
            write_json(self.dir / f"{stored.key}.json", record)
            self._index(record)
            self._lock.notify_all()
        return record

    def wait(self, count: int, timeout: float) -> bool:
        """Block until at least ``count`` messages are in quarantine (an awaited event)."""
        with self._lock:
            return self._lock.wait_for(lambda: len(self._records) >= count, timeout)

    def route(self, params: dict) -> dict:
        """``GET /quarantaine/wacht?aantal=n&timeout=s`` for the control API."""
        count = param(params, "aantal", 1, 0, 1_000_000, integer=True)
        reached = self.wait(count, timeout_param(params))
        return {"bereikt": reached, "aantal": len(self.all())}

    def about(self, kenmerk: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._by_kenmerk.get(kenmerk, ()))

    def all(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._records)
