"""The inbound mail server (MX) of a simulated party: SMTP with mandatory
STARTTLS, sender authentication, durable storage and fault switches."""

from simulators.mailserver.server import ConnectionTrace, MailServer, data_size_limit_for
from simulators.mailserver.store import Folder, MaildirStore, StoredMessage
from simulators.mailserver.switches import Stage, SwitchBoard, Switches

__all__ = ["ConnectionTrace", "MailServer", "data_size_limit_for", "Folder", "MaildirStore", "StoredMessage",
           "Stage", "SwitchBoard", "Switches"]
