"""The stand-in internet: the keten's simulated root, presented as if it were
the real one, so that live mode's own code runs against it.

Live mode (``ketentest check --live``, the resolver of real deelnemers) starts
a local Unbound with two inputs: root hints (Unbound's built-in list) and the
root's trust anchor (Debian's /usr/share/dns/root.key). This module writes
both for a running simulated internet instead: a root-hints file naming the
keten's root server (``a.root-servers.test.`` on ``keten.dns.root_ip``) and
the root KSK as a DS record. Nothing else differs.

    with SimulatedInternet(keten, Pki()) as net, stand_in(net) as files:
        run = check_keten(keten, live=True, root_hints=files.root_hints,
                          trust_anchor=files.trust_anchor)

``files.delv_anchor`` holds the same DS as a BIND ``trust-anchors`` block, for
an independent validator (``delv -a``).
"""

from __future__ import annotations

import base64
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import dns.name
import dns.rdata
import dns.rdatatype
import dns.zonefile


class RootSource(Protocol):
    """What knows the root: simulators.dns.zones.ZoneTree, or
    simulators.internet.ZonesOverApi (the ``dns`` role over its control API)."""

    def root_hints(self) -> str: ...

    def root_trust_anchor(self) -> str: ...


@dataclass(frozen=True)
class StandInFiles:
    root_hints: Path  # NS + A of the root server(s), zone-file form (Unbound root-hints)
    trust_anchor: Path  # the root's DS, zone-file form (Unbound trust-anchor-file)
    delv_anchor: Path  # the same DS as a BIND trust-anchors block (delv -a)


def _source(internet: Any) -> RootSource:
    """A SimulatedInternet or InternetParties (their ``zones``), or a root source itself."""
    zones = getattr(internet, "zones", None)
    source = zones if zones is not None and hasattr(zones, "root_trust_anchor") else internet
    if not hasattr(source, "root_trust_anchor") or not hasattr(source, "root_hints"):
        raise TypeError(f"{type(internet).__name__} kent de root niet (geen zones met root_hints/root_trust_anchor)")
    return source


def root_anchor_records(anchor_text: str) -> list[dns.rdata.Rdata]:
    """The root's DS and KSK (DNSKEY) records in a zone-file-form anchor
    (Unbound's trust-anchor-file; Debian's root.key has no TTL)."""
    rrsets = dns.zonefile.read_rrsets(anchor_text, default_ttl=3600, rdclass=None, origin=dns.name.root,
                                      relativize=False)
    records = [rd for rrset in rrsets if rrset.name == dns.name.root
               and rrset.rdtype in (dns.rdatatype.DS, dns.rdatatype.DNSKEY) for rd in rrset]
    if not records:
        raise ValueError("het sleutelanker bevat geen DS- of DNSKEY-record voor de root")
    return records


def delv_anchors(anchor_text: str) -> str:
    """The root's anchor records as BIND's ``trust-anchors`` block (delv -a)."""
    lines = []
    for rd in root_anchor_records(anchor_text):
        if rd.rdtype == dns.rdatatype.DS:
            lines.append(f'    . static-ds {rd.key_tag} {int(rd.algorithm)} {int(rd.digest_type)} "{rd.digest.hex().upper()}";')
        else:
            key = base64.b64encode(rd.key).decode()
            lines.append(f'    . static-key {rd.flags} {rd.protocol} {int(rd.algorithm)} "{key}";')
    return "trust-anchors {\n" + "\n".join(lines) + "\n};\n"


def write_stand_in(internet: Any, directory: Path | str) -> StandInFiles:
    """Write the root hints and trust anchors of a running simulated internet
    (or of its ZoneTree) into ``directory``."""
    source = _source(internet)
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    hints, anchor = source.root_hints(), source.root_trust_anchor()
    files = StandInFiles(folder / "root.hints", folder / "root.key", folder / "root.delv-anchors")
    files.root_hints.write_text(hints)
    files.trust_anchor.write_text(anchor)
    files.delv_anchor.write_text(delv_anchors(anchor))
    return files


@contextmanager
def stand_in(internet: Any) -> Iterator[StandInFiles]:
    """The stand-in's files in a temporary folder, removed on exit."""
    folder = Path(tempfile.mkdtemp(prefix="ketentest-standin-"))
    try:
        yield write_stand_in(internet, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
