"""The e-mails of the keten: composing them (melding, ontvangstbevestiging,
terugkoppeling) and DKIM-signing them. Delivery is :mod:`ketentest.delivery`."""

from ketentest.mail.compose import (
    ComposedMessage,
    MessageKind,
    TerugkoppelingStatus,
    compose_melding,
    compose_ontvangstbevestiging,
    compose_terugkoppeling,
    read_kenmerk,
    text_outside_attachments,
)
from ketentest.mail.dkim import DkimCheck, SigningKey, sign, verify_all

__all__ = [
    "ComposedMessage", "MessageKind", "TerugkoppelingStatus", "compose_melding", "compose_ontvangstbevestiging",
    "compose_terugkoppeling", "read_kenmerk", "text_outside_attachments",
    "DkimCheck", "SigningKey", "sign", "verify_all",
]
