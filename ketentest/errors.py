"""One root for every error the ketentest reports to a person.

Each error says what is wrong and what to do (``hint``); the CLI and the
pytest plugin print ``str(error)`` instead of a traceback.
"""

from __future__ import annotations


class KetentestError(Exception):
    """Base class: a clear message plus an optional hint on what to do."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  Wat te doen: {self.hint}" if self.hint else self.message


class KetenConfigError(KetentestError):
    """A keten file is malformed: names the file, the key and the problem."""

    def __init__(self, file: str, key: str, problem: str, hint: str = "") -> None:
        self.file = file
        self.key = key
        self.problem = problem
        super().__init__(f"{file}: {key}: {problem}", hint)


class InfrastructureError(KetentestError):
    """The harness could not start or drive a part of the simulated chain
    (address in use, missing program, a simulator that did not come up)."""


class DataError(KetentestError):
    """Input data (a melding, a postcode, a PDF) is invalid."""
