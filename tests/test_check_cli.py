"""``ketentest check``: every deelnemer of the keten in parallel against the
simulated keten (started by the command itself), a Dutch table or JSON,
progress on stderr; live mode's Unbound configuration and its clean
"niet testbaar" when nothing resolves (there is no internet here)."""

from __future__ import annotations

import json

import pytest

from ketentest.checks.runner import ROOT_KEY, check_keten, live_unbound_config
from ketentest.cli import main
from ketentest.config import load_keten
from ketentest.verdict import Uitslag

pytestmark = pytest.mark.dns


@pytest.fixture
def free_machine(internet_lab):
    """The command starts its own simulated keten: stop the session's one
    first (one keten per machine; the lock would make us wait for ourselves)."""
    internet_lab.stop()
    yield


def test_check_prints_a_dutch_table_with_every_deelnemer(free_machine, capsys) -> None:
    code = main(["check"])
    out, err = capsys.readouterr()
    assert code == 0, f"stdout: {out}\nstderr: {err}"
    header = out.splitlines()[2].split()
    assert header == ["domein", "B01", "B02", "B03", "B04", "B05", "B06", "deelnemer"]
    for domain in ("politie.test", "ggdru.test", "ggdflevoland.test", "regiogv.test"):
        row = next(line for line in out.splitlines() if line.startswith(domain + " "))
        assert row.split()[1:7] == ["geslaagd"] * 6, out
    assert "Totaal: geslaagd (alles in orde)." in out
    assert "[ 24/24]" in err  # progress: 4 domains x 6 agreements


def test_check_json_goes_on_past_a_bad_domain(free_machine, capsys) -> None:
    code = main(["check", "--json", "--stil", "--afspraken", "B05,B06", "bestaatniet.test", "ggdru.test"])
    out, err = capsys.readouterr()
    assert out.startswith("{"), f"stdout: {out}\nstderr: {err}"
    data = json.loads(out)
    assert code == 1 and "[" not in err  # --stil: no progress lines
    bad, good = data["domeinen"]
    assert (bad["domein"], bad["uitslag"], bad["deelnemer"]) == ("bestaatniet.test", "niet_testbaar", None)
    assert "bestaat niet" in bad["afspraken"][0]["subtests"][0]["toelichting"]
    assert (good["domein"], good["uitslag"], good["deelnemer"]) == ("ggdru.test", "geslaagd", "ggd-regio-utrecht")
    assert [a["afspraak"] for a in good["afspraken"]] == ["B05", "B06"]


def test_check_refuses_an_unknown_agreement_before_starting_anything(capsys) -> None:
    assert main(["check", "--afspraken", "B05,B99"]) == 2
    assert "onbekende afspraak B99" in capsys.readouterr().err


def test_live_unbound_uses_the_real_root_key_and_builtin_hints(tmp_path) -> None:
    conf = live_unbound_config("127.54.53.53", 53, tmp_path)
    assert f'trust-anchor-file: "{ROOT_KEY}"' in conf
    assert "root-hints" not in conf  # Unbound's built-in root hints
    assert "do-not-query-localhost" not in conf and "local-zone" not in conf  # nothing simulated
    assert "ede: yes" in conf


@pytest.mark.skipif(not ROOT_KEY.is_file(), reason="dns-root-data is not installed")
def test_live_mode_without_internet_is_untestable_not_failed() -> None:
    run = check_keten(load_keten(), ["example.nl"], ["B05", "B06"], live=True)
    if not run.note:
        pytest.skip("deze machine bereikt de echte root-servers: er is internet")
    assert "geen antwoord van de echte root-servers" in run.note
    for result in run.reports[0].results:
        assert result.verdict is Uitslag.NIET_TESTBAAR, result.summary()
        # A timeout, or at once SERVFAIL where no route leads out (a private network namespace).
        assert ("de resolver gaf geen antwoord" in result.summary()
                or "de resolver gaf SERVFAIL" in result.summary()), result.summary()


# -- the runner without a network: an in-memory DNS ------------------------------------

def test_runner_table_and_json_on_an_in_memory_dns() -> None:
    from ketentest.checks.memory import MemoryDns
    from ketentest.checks.runner import CheckRun, ProgressEvent, check_targets, render_table

    dns = MemoryDns()
    dns.add("ggdru.test", "SOA", "ns1.ggdru.test. h.ggdru.test. 1 3600 600 86400 60")
    dns.add("ggdru.test", "MX", "0 .")  # null MX: B05/B06 cannot test, and nothing connects
    events: list[ProgressEvent] = []
    reports = check_targets(["ggdru.test", "niet geldig"], dns, ["B05", "B06"], progress=events.append)
    assert [e.done for e in events] == [0, 1, 2, 3, 4] and events[-1].total == 4
    run = CheckRun("gesimuleerd", "test", "geheugen", ("B05", "B06"), reports, 0.1)
    table = render_table(run)
    assert "ggdru.test   niet testbaar  niet testbaar  (los domein)" in table
    assert "null MX" in table and "is geen maildomein" in table
    assert "Totaal: niet testbaar (NIET in orde)." in table
    data = json.loads(json.dumps(run.to_dict()))
    assert [d["domein"] for d in data["domeinen"]] == ["ggdru.test", "niet geldig"]
