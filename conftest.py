"""The ketentest pytest plugin: options, agreement markers, and the simulated
keten as fixtures. Steps live in steps/, features in features/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ketentest.afspraken import AFSPRAKEN
from ketentest.errors import KetentestError
from ketentest.model import Keten
from simulators import netns

pytest_plugins = ["steps.echt", "steps.regels", "steps.dns", "steps.beveiliging", "steps.verzenden", "steps.storingen",
                  "steps.grensgevallen", "steps.catalogus",
                  "ketentest.report.plugin"]

ROOT = Path(__file__).parent


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ketentest")
    group.addoption("--keten", default=None,
                    help="ketenbestand (YAML) of naam van een ingebouwde keten (standaard: midden-nederland)")
    group.addoption("--seed", type=int, default=20261128, help="zaad voor synthetische gegevens (standaard: 20261128)")
    group.addoption("--defect", default=None,
                    help="draai op de keten met dit defect uit de defectencatalogus (ketentest/data/defecten.yaml)")
    group.addoption("--backend", default="processen", choices=("processen", "containers"),
                    help="hoe de gesimuleerde partijen draaien: als processen (standaard) of elk in een eigen "
                         "container (Docker Engine of Podman via DOCKER_HOST; zie docker/README.md)")


def pytest_configure(config: pytest.Config) -> None:
    for a in AFSPRAKEN.values():
        config.addinivalue_line("markers", f"{a.id}: afspraak {a.id} — {a.titel}")
    for severity in ("kritiek", "hoog", "normaal"):
        config.addinivalue_line("markers", f"{severity}: ernst van het scenario")
    config.addinivalue_line("markers", "dns: raakt de DNS-laag")
    config.addinivalue_line("markers", "grensgeval: regel uit een Voorbeelden-tabel: de keten met één instelling anders "
                                       "(features/*_grensgevallen.feature); niet in de defectenrun")
    config.addinivalue_line("markers", "per_deelnemer: scenario draait voor elke deelnemer van de keten")
    config.addinivalue_line("markers", "per_meldpunt: scenario draait voor elk meldpunt van de keten")
    config.addinivalue_line("markers", "containers: test die een container-engine nodig heeft (./run tests start er een)")
    config.addinivalue_line("markers", "belasting: lange test onder een CPU-belasting die de test zelf start (issue 14); "
                                       "draait gewoon mee in ./run tests")
    if hasattr(config, "workerinput") and netns.available():  # a worker itself, not a pytest it started
        # Each xdist worker its own loopback: ketens side by side (issue 14, point 4). Without the
        # right (a container without CAP_SYS_ADMIN) the workers share one and wait for each other's keten.
        try:
            netns.enter_own()
        except (OSError, subprocess.CalledProcessError) as e:
            print(f"ketentest: geen eigen netwerknamespace voor deze worker ({e}); ketens wachten op elkaar",
                  file=sys.stderr)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem):
    """A container test talks to the engine's parties on the host's loopback:
    with xdist workers, one such test at a time, in the host's namespace."""
    if item.get_closest_marker("containers") and netns.is_private():
        with netns.host_loopback_turn(), netns.host_network():
            return (yield)
    return (yield)


def pytest_exception_interact(node, call, report) -> None:
    """A KetentestError is a message for a person, not a traceback."""
    if call.excinfo is not None and isinstance(call.excinfo.value, KetentestError):
        report.longrepr = f"{type(call.excinfo.value).__name__}: {call.excinfo.value}"


def load_test_keten(config: pytest.Config, workdir: Path | None = None) -> Keten:
    """The keten a run uses: --keten (default midden-nederland) with --defect's edits."""
    from ketentest.defecten import keten_with_defect

    return keten_with_defect(config.getoption("--keten"), config.getoption("--defect"), workdir)


@pytest.fixture(scope="session")
def defect(request: pytest.FixtureRequest):
    from ketentest import defecten

    defect_id = request.config.getoption("--defect")
    return defecten.get(defect_id) if defect_id else None


@pytest.fixture(scope="session")
def keten(request: pytest.FixtureRequest, tmp_path_factory) -> Keten:
    return load_test_keten(request.config, tmp_path_factory.mktemp("keten"))


@pytest.fixture(scope="session")
def pki():
    from simulators.pki import Pki

    return Pki()


@pytest.fixture(scope="session")
def internet_lab(request, pki):
    """Runs at most one simulated keten at a time (they share addresses).

    ``lab.start(keten)`` gives the simulated internet alone (the parties
    stopped, so a test can run its own servers); ``lab.start_sim`` gives the
    whole keten: internet plus police and meldpunten, as processes or
    containers (--backend). Each reuses what runs for the same keten.
    """
    from simulators.keten import KetenSimulatie, backend_named

    class Lab:
        internet = None
        sim: KetenSimulatie | None = None
        backend = None

        def _backend(self):
            if self.backend is None:
                self.backend = backend_named(request.config.getoption("--backend"),
                                             progress=lambda line: print(f"ketentest: {line}", flush=True))
            return self.backend

        def start(self, keten: Keten):
            self.stop_sim()
            if self.internet is not None and self.internet.keten != keten:
                self.stop()
            if self.internet is None:
                self.internet = self._backend().internet(keten, pki).__enter__()
            return self.internet

        def start_sim(self, keten: Keten) -> KetenSimulatie:
            if self.sim is not None and self.sim.keten == keten:
                return self.sim
            internet = self.start(keten)
            self.sim = KetenSimulatie(keten, pki, internet=internet, backend=self._backend()).__enter__()
            return self.sim

        def stop_sim(self) -> None:
            if self.sim is not None:
                self.sim.__exit__(None, None, None)
                self.sim = None

        def stop(self) -> None:
            self.stop_sim()
            if self.internet is not None:
                self.internet.__exit__(None, None, None)
                self.internet = None

    lab = Lab()
    yield lab
    lab.stop()
    if lab.backend is not None:
        lab.backend.close()
    from simulators.defect import close_strippers

    close_strippers()


@pytest.fixture(scope="session")
def referentie_mta(keten):
    """A real DANE-enforcing Postfix as second opinion beside B06/V02 (the
    report plugin asks it); started on first use, once per session."""
    from simulators.referentie.postfix import LuieReferentie

    referentie = LuieReferentie(keten)
    yield referentie
    referentie.close()


@pytest.fixture
def internet(internet_lab, keten, defect):
    """The keten's simulated internet, as the keten (and --defect) describes it;
    changes a test injects are undone afterwards."""
    from simulators.defect import apply_dns

    net = internet_lab.start(keten)
    if defect is not None:
        apply_dns(defect, net)
    yield net
    net.reset()


@pytest.fixture
def keten_sim(internet_lab, keten, defect):
    """The whole simulated keten (internet, postkantoor, meldpunten), with
    --defect's DNS changes and switches; what a test changes is undone afterwards."""
    from simulators.defect import apply_dns, apply_switches

    sim = internet_lab.start_sim(keten)
    if defect is not None:
        apply_dns(defect, sim.internet, mitm=sim.man_in_the_middle)
        apply_switches(defect, sim)
    yield sim
    sim.reset()
