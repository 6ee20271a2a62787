# language: nl
Functionaliteit: Grensgevallen van het beveiligingsniveau
  Per afspraak een tabel met configuraties die niet of net wel voldoen, en de uitslag die de
  ketentest dan geeft. Elke regel draait de keten met één instelling van één deelnemer anders,
  zoals in het ketenbestand (docs/keten-formaat.md), of zet één schakelaar van haar mailserver
  om (schakelaar.mail.…), en controleert het maildomein. De toelichting noemt de trefwoorden
  die in de uitleg van de doorslaggevende bevindingen staan.
  Een testcoördinator voegt een geval toe door een regel aan een tabel toe te voegen.

  @B01 @grensgeval
  Abstract Scenario: DNSSEC-configuraties die niet of net wel voldoen
    Gegeven de keten met voor "<deelnemer>" de instelling <instelling> op <waarde>
    Als het maildomein van "<deelnemer>" wordt gecontroleerd op B01
    Dan is de uitslag "<uitslag>"
    En noemt de toelichting "<toelichting>"

    Voorbeelden:
      | deelnemer                 | instelling        | waarde                     | uitslag      | toelichting                         |
      | ggd-flevoland             | maildomein.dnssec | false                      | gefaald      | niet met DNSSEC beveiligd, insecure |
      | politie-mn                | maildomein.dnssec | {handtekeningen: verlopen} | gefaald      | bogus, onderteken de zone opnieuw   |
      | meldpunt-gooi-vechtstreek | maildomein.dnssec | {ds_in_ouder: kapot}       | gefaald      | bogus, DS-record                    |
      | ggd-regio-utrecht         | maildomein.dnssec | {algoritme: 5}             | waarschuwing | RSASHA1, RFC 8624                   |

  @B02 @grensgeval
  Abstract Scenario: SPF-records die niet of net wel voldoen
    Gegeven de keten met voor "<deelnemer>" de instelling <instelling> op <waarde>
    Als het maildomein van "<deelnemer>" wordt gecontroleerd op B02
    Dan is de uitslag "<uitslag>"
    En noemt de toelichting "<toelichting>"

    Voorbeelden:
      | deelnemer                 | instelling         | waarde                                            | uitslag      | toelichting        |
      | ggd-regio-utrecht         | maildomein.spf     | v=spf1 ip4:127.60.2.10 ~all                       | waarschuwing | ~all               |
      | meldpunt-gooi-vechtstreek | maildomein.spf     | v=spf1 ip4:127.60.4.10 +all                       | gefaald      | +all               |
      | ggd-flevoland             | maildomein.records | ['@ 3600 TXT "v=spf1 ip4:127.60.3.11 -all"']      | gefaald      | 2 SPF-records      |
      | politie-mn                | maildomein.spf     | v=spf1 a a a a a a a a a a a ip4:127.60.1.10 -all | gefaald      | 11, de grens is 10 |

  @B03 @grensgeval
  Abstract Scenario: DKIM-sleutels die niet of net wel voldoen
    Gegeven de keten met voor "<deelnemer>" de instelling <instelling> op <waarde>
    Als het maildomein van "<deelnemer>" wordt gecontroleerd op B03
    Dan is de uitslag "<uitslag>"
    En noemt de toelichting "<toelichting>"

    Voorbeelden:
      | deelnemer                 | instelling      | waarde                                        | uitslag      | toelichting              |
      | meldpunt-gooi-vechtstreek | maildomein.dkim | [{selector: gv2026, type: rsa, bits: 1024}]   | gefaald      | 1024 bits, te zwak       |
      | ggd-regio-utrecht         | maildomein.dkim | [{selector: ggd2026, type: rsa, bits: 2048}]  | waarschuwing | precies 2048, uitfaseren |
      | ggd-flevoland             | maildomein.dkim | [{selector: fl2026, type: ed25519}]           | geslaagd     | Ed25519                  |
      | politie-mn                | maildomein.dkim | [{selector: pol2026r, type: rsa, bits: 3072}] | geslaagd     | RSA 3072 bits            |

  @B04 @grensgeval
  Abstract Scenario: DMARC-records die niet of net wel voldoen
    Gegeven de keten met voor "<deelnemer>" de instelling <instelling> op <waarde>
    Als het maildomein van "<deelnemer>" wordt gecontroleerd op B04
    Dan is de uitslag "<uitslag>"
    En noemt de toelichting "<toelichting>"

    Voorbeelden:
      | deelnemer                 | instelling         | waarde                                                       | uitslag      | toelichting               |
      | ggd-flevoland             | maildomein.dmarc   | "v=DMARC1; p=quarantine; rua=mailto:dmarc@ggdflevoland.test" | waarschuwing | p=quarantine, quarantaine |
      | meldpunt-gooi-vechtstreek | maildomein.dmarc   | "v=DMARC1; p=none"                                           | gefaald      | p=none                    |
      | ggd-regio-utrecht         | maildomein.dmarc   | "v=DMARC1; p=weigeren"                                       | gefaald      | p=weigeren, geen geldig   |
      | politie-mn                | maildomein.records | ['_dmarc 3600 TXT "v=DMARC1; p=none"']                       | gefaald      | 2 v=DMARC1-records        |

  @B05 @grensgeval
  Abstract Scenario: STARTTLS-instellingen die niet of net wel voldoen
    Gegeven de keten met voor "<deelnemer>" de instelling <instelling> op <waarde>
    Als het maildomein van "<deelnemer>" wordt gecontroleerd op B05
    Dan is de uitslag "<uitslag>"
    En noemt de toelichting "<toelichting>"

    Voorbeelden:
      | deelnemer                 | instelling                     | waarde            | uitslag      | toelichting                  |
      | ggd-flevoland             | schakelaar.mail.offer_starttls | false             | gefaald      | geen STARTTLS, onversleuteld |
      | meldpunt-gooi-vechtstreek | schakelaar.mail.tls_profile    | alleen-tls1.0-1.1 | gefaald      | TLSv1.0, TLSv1.1             |
      | ggd-regio-utrecht         | schakelaar.mail.tls_profile    | alleen-cbc        | waarschuwing | CBC, uitfaseren              |
      | politie-mn                | maildomein.tls                 | alleen-tls1.2     | geslaagd     | TLS 1.3 en/of 1.2            |

  @B06 @grensgeval
  Abstract Scenario: DANE-configuraties die niet of net wel voldoen
    Gegeven de keten met voor "<deelnemer>" de instelling <instelling> op <waarde>
    Als het maildomein van "<deelnemer>" wordt gecontroleerd op B06
    Dan is de uitslag "<uitslag>"
    En noemt de toelichting "<toelichting>"

    Voorbeelden:
      | deelnemer                 | instelling                   | waarde    | uitslag      | toelichting                              |
      | ggd-flevoland             | maildomein.tlsa              | []        | gefaald      | geen TLSA-record                         |
      | ggd-regio-utrecht         | maildomein.tlsa              | ["1 1 1"] | gefaald      | alleen TLSA-records met usage 1          |
      | meldpunt-gooi-vechtstreek | schakelaar.mail.cert_variant | replaced  | gefaald      | komt niet overeen, certificaat vervangen |
      | ggd-regio-utrecht         | maildomein.mx                | [{host: mx1.ggdru.test, ip: 127.60.2.25, voorkeur: 10}, {host: mx2.ggdru.test, ip: 127.60.2.26, voorkeur: 20, certificaat: vervangen}] | gefaald      | mx2.ggdru.test                           |
      | politie-mn                | maildomein.tlsa              | ["3 1 1"] | waarschuwing | zonder reserverecord, rollover           |
