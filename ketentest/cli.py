"""The ``ketentest`` command: run the ketentest, inspect a keten, serve its DNS."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from ketentest.errors import KetentestError

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "reports"
REPORT_FILES = ("stuurgroep.html", "resultaten.json", "junit.xml", "cucumber.json", "allure-results/")
#: pytest's exit codes, in Dutch.
PYTEST_EXIT = {0: "alles geslaagd", 1: "scenario's gefaald", 2: "onderbroken, bijvoorbeeld door een fout bij het "
               "verzamelen van de scenario's", 3: "interne fout", 4: "verkeerd aangeroepen, bijvoorbeeld een "
               "onbekende optie", 5: "geen scenario's geselecteerd"}


def cmd_run(args: argparse.Namespace, extra: list[str]) -> int:
    """pytest features/ on the keten: the stuurgroep report, machine-readable
    results and Allure results in reports/, and Allure's HTML if Node.js is there."""
    import pytest

    from ketentest.report.allure_files import generate_allure_html

    REPORTS.mkdir(exist_ok=True)
    argv = [
        str(ROOT / "features"),
        "-p", "no:cacheprovider",
        "-p", "no:hypothesispytest",  # no property tests here; its summary hook imports all of hypothesis
        "-p", "ketentest.report.plugin",  # a no-op once conftest.py lists it in pytest_plugins
        f"--rapportmap={REPORTS}",
        f"--alluredir={REPORTS / 'allure-results'}", "--clean-alluredir",
        f"--junitxml={REPORTS / 'junit.xml'}",
        f"--cucumberjson={REPORTS / 'cucumber.json'}",
        "-o", "junit_family=xunit2",
        "-q" if not args.verbose else "-v",
    ]
    if args.keten:
        argv += ["--keten", args.keten]
    if args.seed is not None:
        argv += ["--seed", str(args.seed)]
    if args.markers:
        argv += ["-m", args.markers]
    if args.backend:
        argv += ["--backend", args.backend]
    import os

    from ketentest.echt import LEDGER_ENV, VERWACHTINGEN_ENV

    # Every party process inherits these (ketentest.echt.Guard): the shared log of
    # real sends (rate limit across processes, counts for the report) and the expectations.
    os.environ.setdefault(LEDGER_ENV, str(REPORTS / "echte-verzendingen.jsonl"))
    if args.verwachtingen:
        os.environ[VERWACHTINGEN_ENV] = str(args.verwachtingen.resolve())
    from simulators.keten import ROOT_HINTS_ENV, TRUST_ANCHOR_ENV

    # A hybrid keten's live resolver against a stand-in for the internet (docs/check.md).
    for path, name in ((args.root_hints, ROOT_HINTS_ENV), (args.sleutelanker, TRUST_ANCHOR_ENV)):
        if path is not None:
            if not path.is_file():
                raise KetentestError(f"bestand {path} bestaat niet", "geef een bestaand root-hints- of sleutelankerbestand")
            os.environ[name] = str(path.resolve())
    started = time.time()
    code = int(pytest.main([*argv, *extra]))
    written = [name for name in REPORT_FILES if _written_since(REPORTS / name.rstrip("/"), started)]
    if not written:
        print(f"\nketentest: geen rapporten geschreven; pytest stopte met code {code} "
              f"({PYTEST_EXIT.get(code, 'onbekend')})\n  Wat te doen: lees de melding van pytest hierboven, "
              "herstel de oorzaak en draai opnieuw", file=sys.stderr)
        return code or 2
    print(generate_allure_html(ROOT, REPORTS / "allure-results")[1])
    print(f"\nRapporten: {REPORTS}/ ({', '.join(written)})")
    return code


def _written_since(path: Path, started: float) -> bool:
    """Whether this run wrote the file (for a folder: a file in it)."""
    if path.is_dir():
        return any(p.stat().st_mtime >= started for p in path.iterdir())
    return path.is_file() and path.stat().st_mtime >= started


def cmd_keten(args: argparse.Namespace, extra: list[str]) -> int:
    """Validate a keten file and print what it describes."""
    from ketentest import referentie
    from ketentest.config import load_keten

    keten = load_keten(args.keten)
    if args.schrijf:
        return _write_keten(keten, args.schrijf)
    print(f"Keten {keten.naam} ({keten.source})")
    if keten.beschrijving:
        print(f"  {keten.beschrijving}")
    print(f"  DNS: root {keten.dns.root_ip}, resolver {keten.dns.resolver_ip}")
    compact = len(keten.meldpunten) > COMPACT_FROM and not args.volledig
    for d in (keten.politie,) if compact else keten.deelnemers:
        dom = d.domain
        print(f"\n  {d.naam} [{d.id}] — {d.rol.value}, {d.adres}, {'ECHT' if d.echt else 'gesimuleerd'}")
        if d.echt:
            e = d.echt
            print(f"    echt: alleen mail naar {', '.join(sorted(e.toegestane_adressen))}; hoogstens {e.max_per_uur} per uur; "
                  f"resolver {e.resolver or 'lokale Unbound met het echte root-sleutelanker'}")
            if e.imap:
                print(f"    echt: IMAPS {e.imap.gebruiker}@{e.imap.host}:{e.imap.port} map {e.imap.map}")
        print(f"    maildomein {dom.name} (DNS {dom.dns_ip}, {'DNSSEC' if dom.dnssec else 'niet ondertekend'})")
        for mx in dom.mx:
            print(f"    MX {mx.preference} {mx.name} {mx.ip}")
        if dom.null_mx:
            print("    MX 0 . (null MX: ontvangt geen mail)")
        print(f"    SPF {dom.spf or '(geen)'}")
        print(f"    DMARC {dom.dmarc or '(geen)'}")
        keys = [f"{k.selector} ({k.algorithm}{' ' + str(k.bits) if k.bits else ''})" for k in dom.dkim]
        print(f"    DKIM {', '.join(keys) or '(geen)'}")
        print(f"    TLSA {', '.join(map(str, dom.tlsa)) or '(geen)'}")
        _print_records(dom.records)
        if d.werkgebied:
            namen = sorted(referentie.gemeenten()[c].naam for c in d.werkgebied)
            print(f"    werkgebied ({len(namen)} gemeenten): {', '.join(namen)}")
    if compact:
        _print_meldpunten_compact(keten)
    for z in keten.zones:
        print(f"\n  zone {z.name} (DNS {z.dns_ip}, {'DNSSEC' if z.dnssec else 'niet ondertekend'})")
        _print_records(z.records)
    print("\nAannames:")
    for label, value in keten.aannames.as_dutch().items():
        print(f"  {label}: {value}")
    return 0


#: Above this many meldpunten ``ketentest keten`` shows one line per meldpunt.
COMPACT_FROM = 6


def _print_meldpunten_compact(keten) -> None:
    """One line per meldpunt: id, maildomein, addresses, keys, werkgebied."""
    from ketentest import referentie

    gemeenten = referentie.gemeenten()
    rows = []
    for m in keten.meldpunten:
        dom = m.domain
        bijzonder = [w for w, on in (("niet ondertekend", not dom.dnssec), ("null MX", dom.null_mx),
                                     (f"{len(dom.records)} vrije records", dom.records), ("geen DMARC", not dom.dmarc),
                                     ("geen TLSA", not dom.tlsa)) if on]
        regions = {gemeenten[c].veiligheidsregio for c in m.werkgebied}
        vr = next(iter(regions))
        if len(regions) == 1 and m.werkgebied == referentie.gemeenten_in_veiligheidsregio(vr):
            gebied = f"{vr} {gemeenten[sorted(m.werkgebied)[0]].veiligheidsregio_naam} ({len(m.werkgebied)} gemeenten)"
        else:
            namen = sorted(gemeenten[c].naam for c in m.werkgebied)
            gebied = f"{len(namen)} gemeenten: {', '.join(namen[:3])}{', …' if len(namen) > 3 else ''}"
        rows.append((m.id, dom.name, dom.dns_ip, " ".join(mx.ip for mx in dom.mx) or "-",
                     ", ".join(f"{k.algorithm}{' ' + str(k.bits) if k.bits else ''}" for k in dom.dkim) or "geen",
                     gebied + (f"  [{'; '.join(bijzonder)}]" if bijzonder else "")))
    head = ("id", "maildomein", "DNS", "MX", "DKIM", "werkgebied")
    widths = [max(len(r[i]) for r in (head, *rows)) for i in range(len(head) - 1)]
    source = keten.source.removeprefix("ingebouwd:")
    print(f"\n  Meldpunten ({len(rows)}), één regel per meldpunt; alles: ketentest keten --keten {source} --volledig")
    for r in (head, *rows):
        print("    " + "  ".join(v.ljust(w) for v, w in zip(r, widths)) + "  " + r[-1])


def _write_keten(keten, target: Path) -> int:
    """The keten as a file to edit: a built-in's text (generated or not), or a copy of the file."""
    from ketentest.config import builtin_keten_text

    if keten.source.startswith("ingebouwd:"):
        text = builtin_keten_text(keten.source.removeprefix("ingebouwd:"))
    else:
        text = Path(keten.source).read_text(encoding="utf-8")
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as e:
        raise KetentestError(f"{target}: niet te schrijven: {e.strerror}", "kies een pad in een bestaande map "
                             "waar u mag schrijven") from None
    print(f"keten {keten.naam} geschreven naar {target} ({len(keten.meldpunten)} meldpunten); "
          f"gebruik: ketentest run --keten {target}")
    return 0


def _print_records(records) -> None:
    """The free records of a zone, as the DNS will serve them."""
    if records:
        print(f"    vrije records ({len(records)}):")
    for r in records:
        print(f"      {r.name} {r.ttl} {r.rdtype} {r.rdata}")


def cmd_dns(args: argparse.Namespace, extra: list[str]) -> int:
    """Serve the keten's signed DNS and Unbound until Ctrl-C."""
    from ketentest.config import load_keten
    from simulators.internet import SimulatedInternet
    from simulators.pki import Pki

    keten = load_keten(args.keten)
    started = time.monotonic()
    with SimulatedInternet(keten, Pki()) as net:
        print(f"Gesimuleerde DNS van keten {keten.naam} draait ({time.monotonic() - started:.2f} s).")
        print(f"  valiterende resolver (Unbound): {keten.dns.resolver_ip}")
        for z in net.zones.zones.values():
            print(f"  zone {z.label:<20} {z.ip:<15} {'ondertekend' if z.state.signed else 'niet ondertekend'}")
        d = keten.meldpunten[0].domain.name
        print(f"\nProbeer: dig @{keten.dns.resolver_ip} +dnssec {d} MX")
        print("Stoppen: Ctrl-C")
        try:
            signal.pause()  # the servers run in their own threads
        except KeyboardInterrupt:
            print("\nGestopt.")
    return 0


def cmd_check(args: argparse.Namespace, extra: list[str]) -> int:
    """Check mail domains on B01-B06, in parallel: a Dutch table or JSON on
    stdout, progress on stderr. Exit 0 only if every domain is in order."""
    import json

    from ketentest.checks import CHECKS
    from ketentest.checks.runner import check_keten, render_table, stderr_progress
    from ketentest.defecten import keten_for_check

    agreements = [a.strip().upper() for a in args.afspraken.split(",") if a.strip()] if args.afspraken else None
    unknown = sorted(set(agreements or ()) - set(CHECKS))
    if unknown:
        raise KetentestError(f"onbekende afspraak {', '.join(unknown)}", f"kies uit {', '.join(CHECKS)}")
    keten = keten_for_check(args.keten, args.defect, warn=None if args.stil else sys.stderr)
    run = check_keten(keten, args.domeinen, agreements, live=args.live, root_hints=args.root_hints,
                      trust_anchor=args.sleutelanker, progress=None if args.stil else stderr_progress(sys.stderr))
    print(json.dumps(run.to_dict(), ensure_ascii=False, indent=2) if args.json else render_table(run, args.details))
    return 0 if run.ok else 1


def cmd_defecten(args: argparse.Namespace, extra: list[str]) -> int:
    """Run the features on the healthy keten and on each catalogue defect, and
    print the detection matrix: caught, missed, collateral."""
    import json

    from ketentest.defecten import catalogue
    from ketentest.defectrun import HEALTHY, run_catalogue, to_json

    if args.lijst:
        for d in catalogue().values():
            print(f"{d.id:<34} {d.titel}\n{'':<34} verwacht: {', '.join(map(str, d.verwacht))}")
        return 0
    workdir = REPORTS / "defecten"

    def progress(name, item) -> None:
        if name == HEALTHY:
            print(f"gezonde keten: {len(item.failing())} falende afspraak-cellen ({item.seconden:.0f} s)", file=sys.stderr)
        else:
            state = "in orde" if item.in_orde else "NIET in orde"
            print(f"{name}: {state} — gevangen {', '.join(item.gevangen) or '-'}; gemist {', '.join(item.gemist) or '-'}; "
                  f"bijschade {', '.join(item.bijschade) or '-'} ({item.run.seconden:.0f} s)", file=sys.stderr, flush=True)

    started = time.monotonic()
    healthy, detections = run_catalogue(args.defecten or None, workdir, args.parallel, progress, keten=args.keten,
                                        backend=args.backend)
    result = to_json(healthy, detections)
    result["seconden"] = round(time.monotonic() - started, 1)
    (REPORTS / "defecten.json").write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    from ketentest.report.catalogus import write, write_allure

    write(result, REPORTS / "defecten.html")
    write_allure(result, REPORTS / "allure-results")  # next to the last run's scenarios
    from ketentest.report.allure_files import generate_allure_html

    print(generate_allure_html(ROOT, REPORTS / "allure-results")[1], file=sys.stderr)
    ok = not result["gezond"]["gefaald"] and all(d["in_orde"] for d in result["defecten"])
    print(f"\n{sum(d['in_orde'] for d in result['defecten'])}/{len(detections)} defecten precies gevangen, "
          f"gezonde keten {'groen' if not result['gezond']['gefaald'] else 'NIET groen'}, {result['seconden']:.0f} s; "
          f"matrix: {REPORTS / 'defecten.html'}")
    return 0 if ok else 1


class UsageError(Exception):
    """A command line argparse refused, already in Dutch."""


#: argparse's own phrases, in Dutch.
_ARGPARSE_DUTCH = (("the following arguments are required", "deze argumenten ontbreken"),
                   ("invalid choice", "onbekende keuze"), ("choose from", "kies uit"),
                   ("invalid int value", "geen geheel getal"), ("expected one argument", "verwacht één waarde"),
                   ("unrecognized arguments", "onbekende opties"), ("ignored explicit argument", "overbodige waarde"))


class DutchArgumentParser(argparse.ArgumentParser):
    """argparse whose errors become one Dutch line (UsageError), not usage text plus English."""

    def error(self, message: str):
        for english, dutch in _ARGPARSE_DUTCH:
            message = message.replace(english, dutch)
        raise UsageError(f"{self.prog}: {message}\n  Wat te doen: zie '{self.prog} --help'")


def cmd_opruimen(args: argparse.Namespace, extra: list[str]) -> int:
    """Remove what container runs left behind (a harness killed before it could clean up)."""
    from simulators.containers.backend import opruimen
    from simulators.containers.image import docker_client

    containers, volumes = opruimen(docker_client(), args.run)
    if not containers and not volumes:
        print("ketentest: niets op te ruimen")
    for kind, names in (("container", containers), ("volume", volumes)):
        for name in names:
            print(f"verwijderd: {kind} {name}")
    return 0


def cmd_compose(args: argparse.Namespace, extra: list[str]) -> int:
    """A Docker Compose file for the keten, with its PKI and control token (simulators/containers/compose.py)."""
    from ketentest.config import load_keten
    from simulators.containers.compose import DEFAULT_OUT, instructions, write_compose

    result = write_compose(args.keten, args.uit or DEFAULT_OUT, image=args.image)
    print(instructions(result, load_keten(args.keten)))
    return 0


def cmd_image(args: argparse.Namespace, extra: list[str]) -> int:
    """Build (or reuse) the parties' container image and print its tag."""
    from simulators.containers.image import docker_client, ensure_image

    tag = ensure_image(docker_client(), base_image=args.basis, progress=lambda line: print(line, file=sys.stderr))
    print(tag)
    return 0


def cmd_stappen(args: argparse.Namespace, extra: list[str]) -> int:
    """The step catalogue (docs/stappen.md) as the step definitions make it now."""
    from ketentest import stappen

    if args.schrijf:
        print(f"geschreven: {stappen.write().relative_to(ROOT)}")
    else:
        print(stappen.generate(), end="")
    return 0


def cmd_ophalen(args: argparse.Namespace, extra: list[str]) -> int:
    """Collect the replies of real deelnemers and judge the expectations a
    run recorded (docs/echte-deelnemers.md); exit 1 on te laat/verlopen."""
    import datetime as dt

    from ketentest import verwachtingen as vw

    now = None
    if args.nu:
        try:
            now = dt.datetime.fromisoformat(args.nu)
        except ValueError:
            raise vw.VerwachtingenFout(f"--nu {args.nu!r} is geen tijdstip",
                                       "schrijf bijvoorbeeld --nu 2026-12-02T16:00+01:00") from None
        now = now.astimezone(dt.timezone.utc) if now.tzinfo else now.replace(tzinfo=dt.timezone.utc)
    found = vw.load(args.verwachtingen)
    bronnen: list = [vw.EmlMap(m) for m in args.map or []]
    if args.imap is not None:
        from ketentest.config import load_keten

        bronnen += vw.sources_for(load_keten(args.keten), found, args.imap or None)
    if not bronnen:
        raise vw.VerwachtingenFout("geen bron om antwoorden uit op te halen",
                                   "geef --map MAP (berichten als .eml) en/of --imap (de imap-blokken van de echte "
                                   "deelnemers in het ketenbestand)")
    uitslagen = vw.ophalen(args.verwachtingen, bronnen, now)
    when = (now or dt.datetime.now(dt.timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")
    print(f"Verwachtingen uit {args.verwachtingen}, beoordeeld op {when}; bronnen: "
          f"{', '.join(b.beschrijving for b in bronnen)}")
    print(vw.table(uitslagen) if uitslagen else "Geen verwachtingen in het bestand.")
    return vw.exit_code(uitslagen)


def build_parser() -> argparse.ArgumentParser:
    parser = DutchArgumentParser(
        prog="ketentest",
        description="Ketentest niet-acute zorgmeldingen: test of de hele keten politie -> meldpunt werkt en veilig is.",
        epilog="Zonder --keten wordt de ingebouwde keten midden-nederland gebruikt. Documentatie: docs/.",
    )
    sub = parser.add_subparsers(dest="command", metavar="opdracht")

    def add(name: str, func, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--keten", help="ketenbestand (YAML) of naam van een ingebouwde keten")
        p.set_defaults(func=func)
        return p

    run = add("run", cmd_run, "draai de ketentest (pytest features/) en schrijf de rapporten in reports/")
    run.add_argument("--seed", type=int, help="zaad voor de synthetische meldingen")
    run.add_argument("-m", dest="markers", help="selecteer scenario's op afspraak, bijv. -m B06 of -m 'B01 or V02'")
    run.add_argument("-v", "--verbose", action="store_true", help="toon elk scenario")
    backend_help = ("hoe de partijen draaien: processen (standaard) of containers (elke partij een eigen container; "
                    "Docker Engine of Podman via DOCKER_HOST, zie docker/README.md)")
    run.add_argument("--backend", choices=("processen", "containers"), help=backend_help)
    run.add_argument("--root-hints", type=Path, metavar="BESTAND",
                     help="bij echte deelnemers: de root-servers voor de lokale Unbound uit dit bestand (een stand-in "
                          "voor het internet, docs/check.md); standaard de ingebouwde lijst van Unbound")
    run.add_argument("--sleutelanker", type=Path, metavar="BESTAND",
                     help="bij echte deelnemers: het sleutelanker van de root; standaard /usr/share/dns/root.key")
    run.add_argument("--verwachtingen", type=Path, metavar="BESTAND",
                     help="schrijf wat echte deelnemers nog moeten antwoorden in BESTAND, voor 'ketentest ophalen'")
    ophalen = add("ophalen", cmd_ophalen, "haal de antwoorden van echte deelnemers op en beoordeel wat een run nog "
                  "verwachtte (ontvangstbevestiging, terugkoppeling)")
    ophalen.add_argument("--verwachtingen", type=Path, required=True, metavar="BESTAND",
                         help="het verwachtingenbestand van de run")
    ophalen.add_argument("--map", type=Path, action="append", metavar="MAP",
                         help="lees antwoorden uit deze map (.eml-bestanden of een Maildir); mag vaker")
    ophalen.add_argument("--imap", nargs="?", const="", metavar="DEELNEMER",
                         help="lees de IMAP-mailbox uit het echt-blok van elke echte deelnemer met verwachtingen "
                              "(of alleen van DEELNEMER); met --keten")
    ophalen.add_argument("--nu", metavar="TIJDSTIP", help="beoordeel alsof het nu dit tijdstip is (ISO 8601)")
    keten = add("keten", cmd_keten, "controleer een ketenbestand en toon wat het beschrijft")
    keten.add_argument("--volledig", action="store_true",
                       help=f"toon elk meldpunt volledig, ook bij meer dan {COMPACT_FROM} meldpunten")
    keten.add_argument("--schrijf", type=Path, metavar="PAD",
                       help="schrijf de keten als ketenbestand naar PAD (om aan te passen), bijv. de gegenereerde "
                            "landelijke keten")
    add("dns", cmd_dns, "start de gesimuleerde DNS en Unbound van een keten, tot Ctrl-C")
    check = add("check", cmd_check, "toets maildomeinen op B01-B06 (standaard: elke deelnemer van de keten)")
    check.add_argument("domeinen", nargs="*", metavar="domein", help="maildomein(en); standaard alle deelnemers")
    check.add_argument("--afspraken", help="kommagescheiden, bijv. B05,B06 (standaard: alle)")
    check.add_argument("--json", action="store_true", help="JSON op stdout in plaats van een tabel")
    check.add_argument("--details", action="store_true", help="toon de toelichting van elke subtest")
    check.add_argument("--stil", action="store_true", help="geen voortgang op stderr")
    check.add_argument("--defect", help="toets de keten met dit defect uit de catalogus (zie ketentest defecten --lijst)")
    check.add_argument("--live", action="store_true",
                       help="echte DNS via een lokale Unbound met het echte root-sleutelanker (internet nodig)")
    check.add_argument("--root-hints", type=Path, metavar="BESTAND",
                       help="met --live: de root-servers uit dit bestand (NS- en A-records, zonebestandvorm) in plaats "
                            "van de ingebouwde lijst van Unbound, bijv. een stand-in voor het internet (docs/check.md)")
    check.add_argument("--sleutelanker", type=Path, metavar="BESTAND",
                       help="met --live: het sleutelanker van de root (DS- of DNSKEY-records, zonebestandvorm); "
                            "standaard /usr/share/dns/root.key (Debian-pakket dns-root-data)")
    defecten = add("defecten", cmd_defecten,
                   "draai de scenario's op de gezonde keten en op elk defect uit de catalogus; toon wat gevangen wordt")
    defecten.add_argument("defecten", nargs="*", metavar="defect", help="alleen deze defecten (standaard: alle)")
    defecten.add_argument("--parallel", type=int, default=2, help="zoveel runs tegelijk (standaard 2)")
    defecten.add_argument("--lijst", action="store_true", help="toon de catalogus en stop")
    defecten.add_argument("--backend", choices=("processen", "containers"), default="processen",
                          help=backend_help + "; met containers één run tegelijk")
    opruimen = sub.add_parser("opruimen", help="verwijder containers en volumes die een afgebroken containerrun achterliet",
                              description="verwijder containers en volumes met het label ketentest.run "
                                          "(van een run die hard werd gestopt)")
    opruimen.add_argument("--run", help="alleen deze run (standaard: elke ketentest-run)")
    opruimen.set_defaults(func=cmd_opruimen)
    compose = add("compose", cmd_compose, "schrijf een Docker Compose-bestand voor de keten: elke partij in een eigen container")
    compose.add_argument("--uit", type=Path, help="map voor compose.yaml, keten.yaml, pki/ en besturing.token "
                         "(standaard: docker/keten/)")
    compose.add_argument("--image", help="image van de partijen (standaard: het image dat 'ketentest image' bouwt)")
    image = sub.add_parser("image", help="bouw het container-image van de partijen (of hergebruik het) en toon de tag",
                           description="bouw het container-image van de partijen (of hergebruik het) en toon de tag")
    image.add_argument("--basis", help="basisimage (standaard: $KETENTEST_BASE_IMAGE, localhost/ketentest-base:bookworm "
                       "als dat er is, anders python:3.11-slim)")
    image.set_defaults(func=cmd_image)
    stappen = sub.add_parser("stappen", help="toon elke Nederlandse stapzin met een voorbeeld (docs/stappen.md)",
                             description="toon de stappencatalogus: elke zin die een scenario kan gebruiken, met een "
                                         "voorbeeld uit features/")
    stappen.add_argument("--schrijf", action="store_true", help="schrijf hem naar docs/stappen.md")
    stappen.set_defaults(func=cmd_stappen)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
    except UsageError as e:
        print(e, file=sys.stderr)
        return 2
    if extra and args.command != "run":
        print(f"ketentest: onbekende optie{'s' if len(extra) > 1 else ''}: {' '.join(extra)}\n"
              f"  Wat te doen: zie 'ketentest {args.command + ' ' if args.command else ''}--help'", file=sys.stderr)
        return 2
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.func(args, extra)
    except KetentestError as e:
        print(f"ketentest: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nketentest: afgebroken", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into head and the like
        return 0


if __name__ == "__main__":
    sys.exit(main())
