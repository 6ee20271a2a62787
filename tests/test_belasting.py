"""Issue 3's load run: 1,000 meldingen through the whole keten while the
meldpunten answer 4xx and drop connections at random. Every melding ends in
exactly one final state; none lost, none delivered or registered twice."""

from __future__ import annotations

from simulators.belasting import run_load


def test_thousand_meldingen_with_random_faults_end_once_each(internet_lab, keten, request):
    sim = internet_lab.start_sim(keten)
    try:
        result = run_load(sim, 1000, seed=request.config.getoption("--seed"))
    finally:
        sim.reset()
    print(result.samenvatting())
    assert result.aantal == 1000
    assert result.fouten_ingezet["4xx"] > 0 and result.fouten_ingezet["verbinding weg tijdens DATA"] > 0
    assert max(result.pogingen) > 1  # the faults really forced retries
    assert not result.niet_afgerond, f"kwijt: {result.niet_afgerond[:10]}"
    assert not result.dubbel_bezorgd, f"dubbel bezorgd: {result.dubbel_bezorgd[:10]}"
    assert not result.dubbel_geregistreerd, f"dubbel geregistreerd: {result.dubbel_geregistreerd[:10]}"
    assert not result.niet_geregistreerd, f"bezorgd maar niet geregistreerd: {result.niet_geregistreerd[:10]}"
    assert result.eindtoestanden == {"bezorgd en bevestigd": 1000}, result.samenvatting()


def test_the_tally_catches_a_melding_processed_twice(internet_lab, keten, request):
    """The tally is not a rubber stamp: a meldpunt that processes a resent
    kenmerk again is counted as a double registration."""
    import base64

    from ketentest.mail.compose import read_kenmerk
    from simulators.belasting import tally

    sim = internet_lab.start_sim(keten)
    try:
        result = run_load(sim, 5, seed=request.config.getoption("--seed") + 1)
        assert result.in_orde, result.samenvatting()
        entry = sim.politie.get("/meldingen")[0]
        mp = sim.meldpunten[entry["meldpunt"]]
        mp.post("/schakelaars", {"dubbel_verwerken": True})
        # Resend the very same signed message straight to the meldpunt (as a
        # postkantoor that lost its bookkeeping would).
        eml = base64.b64decode(sim.politie.get(f"/meldingen/{entry['kenmerk']}/bericht")["eml_base64"])
        assert read_kenmerk(eml) == entry["kenmerk"]
        from ketentest.delivery import deliver

        politie = keten.politie
        sender = politie.domain.senders[0]
        attempt = deliver(eml, politie.adres, keten.deelnemer(entry["meldpunt"]).adres, resolver=sim.internet.resolver,
                          source_ip=sender.ip, helo=sender.name)
        assert attempt.delivered, attempt.describe()
        again = tally(sim, [e["kenmerk"] for e in sim.politie.get("/meldingen")], {}, 0.0)
        assert again.dubbel_geregistreerd == (entry["kenmerk"],)
        assert not again.in_orde
    finally:
        sim.reset()
