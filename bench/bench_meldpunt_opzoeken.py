"""Benchmark of the meldpunt's lookup by kenmerk (``GET /meldingen/{kenmerk}``,
issue 10.9b): with N stored meldingen (real PDFs) and some quarantined
mail, how long one lookup takes through the kenmerk index, next to what it
cost to parse every stored message (the old way). In-process, no network.
Prints figures; asserts nothing.

    .venv/bin/python bench/bench_meldpunt_opzoeken.py [n ...]     # default: 100 1000
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from ketentest import meldformulier
from ketentest.mail.auth import AuthResult, DkimSignatureResult, Disposition, DmarcResult, SpfResult
from ketentest.mail.compose import CHAIN_HEADERS, compose_melding, read_kenmerk
from ketentest.synth import generate_meldingen
from simulators.mailserver.store import Folder, StoredMessage
from simulators.party import Party, parse_args


def auth(domain: str, passed: bool) -> AuthResult:
    spf = SpfResult("pass", "", "mailfrom", f"x@{domain}", domain)
    dkim = (DkimSignatureResult(0, "pass", "", domain, "s", "ed25519-sha256", f"@{domain}", "ed25519", 256, "secure",
                                CHAIN_HEADERS),) if passed else ()
    dmarc = DmarcResult("pass" if passed else "none", "", domain, domain, domain, "v=DMARC1; p=reject", "secure",
                        "reject", "s", "s", passed, passed, Disposition.NONE)
    return AuthResult("mx.bench", spf, dkim, dmarc, "mx.bench; bench")


def fill(meldpunt, n: int) -> list[str]:
    keten = meldpunt.keten
    kenmerken = []
    for i, m in enumerate(generate_meldingen(keten, seed=20261201, n=n)):
        genuine = i % 10 != 0  # every tenth is an outsider's, quarantined
        sender = keten.politie.adres if genuine else "iemand@buitenstaander.test"
        a = auth(sender.rsplit("@", 1)[1], genuine)
        data = a.header_bytes() + compose_melding(m.kenmerk, meldformulier.render(m), sender=sender,
                                                  recipient=meldpunt.deelnemer.adres).data
        key, path = meldpunt.mx.store.deliver(data, Folder.INBOX)
        meldpunt.on_message(StoredMessage(key, Folder.INBOX, path, data, sender, (meldpunt.deelnemer.adres,),
                                          "127.60.1.10", "bench", "mx1", "TLSv1.3", "", a, 0.0))
        kenmerken.append(m.kenmerk)
    return kenmerken


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [100, 1000]
    print(f"{'opgeslagen':>10} {'via index (mediaan)':>20} {'alles parsen (oud)':>20}")
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            from simulators.meldpunt.app import Meldpunt

            meldpunt = Meldpunt(Party(parse_args("bench", ["--keten", "midden-nederland", "--id",
                                                           "ggd-regio-utrecht", "--data", str(Path(tmp) / "mp")])))
            kenmerken = fill(meldpunt, n)
            lookups = []
            for k in kenmerken[:: max(1, n // 50)]:
                t = time.perf_counter()
                meldpunt.melding({"kenmerk": k})
                lookups.append(time.perf_counter() - t)
            t = time.perf_counter()  # the old lookup: read and parse every stored message
            paths = [p for folder in Folder for p in (meldpunt.mx.store.folder_path(folder) / "new").iterdir()]
            [read_kenmerk(p.read_bytes()) for p in paths]
            walk = time.perf_counter() - t
            print(f"{n:>10} {statistics.median(lookups) * 1000:>17.2f} ms {walk * 1000:>17.0f} ms")


if __name__ == "__main__":
    main()
