"""The sub-rules of chapter V (Verzenden en ontvangen) as step sentences:
see :class:`ketentest.regels.Regel`."""

from __future__ import annotations

from ketentest.regels import Regel

_r = Regel

#: The rules of chapter V, in the order features/verzenden.feature states them.
REGELS: tuple[Regel, ...] = ()
