"""Durable message store of a simulated party: a Maildir, written crash-safe.

Python's ``mailbox.Maildir.add`` writes to tmp/ and renames to new/, but never
fsyncs, so after a power cut a "stored" message can be empty or gone. We
write by hand (the delivery part of the Maildir convention only):

1. write the message to ``tmp/<unique>`` and ``fsync`` the file;
2. ``rename`` it to ``new/<unique>`` (atomic within one file system);
3. ``fsync`` the ``new/`` directory, so the rename itself is durable.

Only then does the server answer 250. A crash before step 2 leaves at most a
file in tmp/, which :meth:`MaildirStore.recover` removes; a message is never
half in new/. Reading back works with the standard library:
``mailbox.Maildir(root)`` is the inbox, ``.get_folder("Quarantaine")`` the
quarantine (Maildir++ layout).
"""

from __future__ import annotations

import itertools
import mailbox
import os
import threading
import time
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from ketentest.mail.auth import AuthResult

QUARANTINE_FOLDER = "Quarantaine"


class Folder(str, Enum):
    INBOX = "inbox"
    QUARANTINE = "quarantaine"


@dataclass(frozen=True)
class StoredMessage:
    """One accepted message as stored, with its envelope and checks.

    Only this small record stays in memory; :attr:`content` is read from the
    Maildir when asked for, so a server's memory stays flat however large
    and however many the messages are."""

    key: str  # file name in new/
    folder: Folder
    path: Path
    kept: bytes | None = field(repr=False, compare=False)  # the bytes, if a caller keeps them anyway; None: on disk
    mail_from: str
    rcpt_tos: tuple[str, ...]
    client_ip: str
    helo: str
    listener: str  # the MX host name that received it
    tls_version: str  # "" if none (only when STARTTLS was not required)
    tls_cipher: str
    auth: AuthResult
    received_at: float  # server clock timestamp

    @property
    def content(self) -> bytes:
        """Exactly the stored bytes (Authentication-Results first), from disk."""
        if self.kept is not None:
            return self.kept
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            # Moved since: to cur/ by a Maildir reader (cur/ names may carry ":2,<flags>"),
            # or from the inbox to the quarantine folder by the application.
            box = self.path.parent.parent
            roots = [box, box / f".{QUARANTINE_FOLDER}"] if self.folder is Folder.INBOX else [box]
            for root in roots:
                for sub in ("new", "cur"):
                    for moved in (root / sub).glob(f"{self.key}*"):
                        return moved.read_bytes()
            raise


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class MaildirStore:
    """Inbox and quarantine Maildirs under ``root``; safe to use from threads."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        for folder in Folder:
            self._ensure(self.folder_path(folder))

    def folder_path(self, folder: Folder) -> Path:
        return self.root if folder is Folder.INBOX else self.root / f".{QUARANTINE_FOLDER}"

    def _ensure(self, path: Path) -> None:
        created = not path.exists()
        for sub in ("tmp", "new", "cur"):
            (path / sub).mkdir(parents=True, exist_ok=True)
        if created:
            _fsync_dir(path)
            _fsync_dir(path.parent)
        if path != self.root:
            (path / "maildirfolder").touch()  # Maildir++ marker

    def _unique(self) -> str:
        now = time.time()
        with self._lock:
            n = next(self._counter)
        return f"{int(now)}.M{int((now % 1) * 1e6):06d}P{os.getpid()}Q{n}.ketentest"

    def deliver(self, content: bytes, folder: Folder = Folder.INBOX) -> tuple[str, Path]:
        """Store ``content`` durably; returns (key, path in new/). Raises OSError
        if it could not be stored (the caller then answers 4xx)."""
        base = self.folder_path(folder)
        key = self._unique()
        tmp, final = base / "tmp" / key, base / "new" / key
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(content)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        os.close(fd)
        os.rename(tmp, final)
        _fsync_dir(base / "new")
        return key, final

    def keys(self, folder: Folder = Folder.INBOX) -> list[str]:
        """Stored messages, oldest first (new/ and cur/)."""
        base = self.folder_path(folder)
        names = [p for sub in ("new", "cur") for p in (base / sub).iterdir() if not p.name.startswith(".")]
        return [p.name for p in sorted(names, key=lambda p: (p.stat().st_mtime_ns, p.name))]

    def read(self, key: str, folder: Folder = Folder.INBOX) -> bytes:
        base = self.folder_path(folder)
        for sub in ("new", "cur"):
            # cur/ names may carry ":2,<flags>" after the key
            for p in (base / sub).glob(f"{key}*"):
                return p.read_bytes()
        raise KeyError(key)

    def messages(self, folder: Folder = Folder.INBOX) -> list[bytes]:
        return [self.read(k, folder) for k in self.keys(folder)]

    def count(self, folder: Folder = Folder.INBOX) -> int:
        return len(self.keys(folder))

    def leftovers(self) -> list[Path]:
        """Files in tmp/: deliveries that never completed."""
        return [p for folder in Folder for p in (self.folder_path(folder) / "tmp").iterdir()]

    def recover(self) -> int:
        """Remove leftovers of deliveries interrupted by a crash (never
        answered 250, so the sender still has them). Call before serving."""
        removed = 0
        for p in self.leftovers():
            p.unlink(missing_ok=True)
            removed += 1
        return removed

    def as_mailbox(self, folder: Folder = Folder.INBOX) -> mailbox.Maildir:
        """The folder as a standard-library Maildir, for independent reading."""
        box = mailbox.Maildir(self.root, factory=None, create=False)
        return box if folder is Folder.INBOX else box.get_folder(QUARANTINE_FOLDER)
