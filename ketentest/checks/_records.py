"""Shared record helpers for the checks: RFC 6376 tag lists (DKIM, and the
same syntax in DMARC, MTA-STS and TLS-RPT records) and the organisational
domain (RFC 7489 3.2)."""

from __future__ import annotations

import functools
import re
from typing import Any

_TAG = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def parse_tag_list(text: str) -> dict[str, str]:
    """Pure: RFC 6376 3.2 tag=value list. Raises ValueError (Dutch) when
    malformed or when a tag repeats."""
    tags: dict[str, str] = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        name, eq, value = part.partition("=")
        name = name.strip()
        if not eq or not _TAG.match(name):
            raise ValueError(f"{part.strip()!r} is geen tag=waarde")
        if name in tags:
            raise ValueError(f"de tag {name}= komt meer dan eens voor")
        tags[name] = value.strip()
    return tags


@functools.cache
def _psl() -> Any:
    from publicsuffix2 import PublicSuffixList

    return PublicSuffixList()


def organizational_domain(domain: str) -> str:
    """The organisational domain (RFC 7489 3.2): the public suffix plus one
    label, by the Public Suffix List (publicsuffix2's bundled copy).

    A name under a TLD the list does not know (our simulated ``.test``) gets
    the list's default rule ``*``: its public suffix is the TLD itself, so
    ``mail.ggdru.test`` belongs to ``ggdru.test``. (publicsuffix2's non-strict
    ``get_sld`` and authheaders' ``get_org_domain`` answer ``test`` there,
    which would make every simulated domain one organisation.) A name that is
    itself a public suffix is returned unchanged.
    """
    domain = domain.lower().rstrip(".")
    labels = domain.split(".")
    suffix = _psl().get_tld(domain, strict=True) or labels[-1]
    n = len(suffix.split(".")) + 1
    return ".".join(labels[-n:]) if len(labels) >= n else domain
