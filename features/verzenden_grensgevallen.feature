# language: nl
Functionaliteit: Grensgevallen van het verzenden en ontvangen
  Per afspraak een tabel met gedragingen van het postkantoor of een meldpunt die niet of net
  wel voldoen, en de uitslag die de ketentest dan geeft. Elke regel zet op de draaiende keten
  één schakelaar van één partij anders (zie docs/keten-formaat.md), laat de politie een melding
  doen en toetst de verzending. Tijden lopen op de ketenklok, nooit op de wandklok.
  Een testcoördinator voegt een geval toe door een regel aan een tabel toe te voegen.

  @V01 @grensgeval
  Abstract Scenario: Een postkantoor dat wel of niet op de postcode routeert
    Gegeven de keten met voor "politie-mn" de instelling <instelling> op <waarde>
    Als de politie een melding doet over iemand in het werkgebied van "<meldpunt>"
    En de verzending wordt getoetst aan V01
    Dan is de uitslag "<uitslag>"
    En noemt de toelichting "<toelichting>"

    Voorbeelden:
      | meldpunt                  | instelling                    | waarde | uitslag  | toelichting                     |
      | ggd-flevoland             | schakelaar.verkeerd_meldpunt  | false  | geslaagd | juiste meldpunt                 |
      | meldpunt-gooi-vechtstreek | schakelaar.verkeerd_meldpunt  | true   | gefaald  | routeert verkeerd, postcodetabel |

  @V02 @grensgeval
  Abstract Scenario: Een meldpunt zonder veilige route krijgt de melding niet
    Gegeven de keten met voor "<meldpunt>" de instelling <instelling> op <waarde>
    Als de politie een melding doet over iemand in het werkgebied van "<meldpunt>"
    En de verzending wordt getoetst aan V02
    Dan is de uitslag "<uitslag>"
    En noemt de toelichting "<toelichting>"

    Voorbeelden:
      | meldpunt                  | instelling                      | waarde            | uitslag  | toelichting                     |
      | ggd-flevoland             | schakelaar.mail.offer_starttls  | false             | geslaagd | terecht niet verstuurd, alternatieve route |
      | ggd-regio-utrecht         | schakelaar.mail.tls_profile     | alleen-tls1.0-1.1 | geslaagd | terecht niet verstuurd, alternatieve route |
      | meldpunt-gooi-vechtstreek | schakelaar.mail.cert_variant    | replaced          | geslaagd | terecht niet verstuurd, alternatieve route |

  @V03 @grensgeval
  Abstract Scenario: Een postkantoor dat niet of niet goed ondertekent
    Gegeven de keten met voor "politie-mn" de instelling <instelling> op <waarde>
    Als de politie een melding doet over iemand in het werkgebied van "<meldpunt>"
    En de verzending wordt getoetst aan V03
    Dan is de uitslag "<uitslag>"
    En noemt de toelichting "<toelichting>"

    Voorbeelden:
      | meldpunt                  | instelling                           | waarde | uitslag | toelichting         |
      | ggd-regio-utrecht         | schakelaar.dkim_ondertekenen         | false  | gefaald | DKIM                |
      | ggd-flevoland             | schakelaar.overondertekenen          | false  | gefaald | over-ondertekent    |
      | meldpunt-gooi-vechtstreek | schakelaar.wijzigen_na_ondertekenen  | true   | gefaald | dkim=fail           |

  @V04 @grensgeval
  Abstract Scenario: Een meldformulier op en net over de maximale grootte, of met een andere inhoud
    Gegeven de keten met voor "politie-mn" de instelling <instelling> op <waarde>
    Als de politie een melding doet over iemand in het werkgebied van "<meldpunt>"
    En de verzending wordt getoetst aan V04
    Dan is de uitslag "<uitslag>"
    En noemt de toelichting "<toelichting>"

    Voorbeelden:
      | meldpunt                  | instelling                               | waarde | uitslag  | toelichting                  |
      | ggd-flevoland             | schakelaar.meldformulier_opvullen_tot_mb | 10.1   | gefaald  | weigerde, hoogstens 10.0 MB  |
      | meldpunt-gooi-vechtstreek | schakelaar.pdf_wijzigen                  | true   | gefaald  | wijken af, signaal           |
      | ggd-regio-utrecht         | schakelaar.pdf_met_javascript            | true   | gefaald  | weigerde, JavaScript         |

  @V05 @grensgeval
  Abstract Scenario: Persoonsgegevens buiten de PDF
    Gegeven de keten met voor "politie-mn" de instelling <instelling> op <waarde>
    Als de politie een melding doet over iemand in het werkgebied van "<meldpunt>"
    En de verzending wordt getoetst aan V05
    Dan is de uitslag "<uitslag>"
    En noemt de toelichting "<toelichting>"

    Voorbeelden:
      | meldpunt                  | instelling                   | waarde | uitslag | toelichting     |
      | ggd-flevoland             | schakelaar.bsn_in_onderwerp  | true   | gefaald | BSN, Subject    |
      | meldpunt-gooi-vechtstreek | schakelaar.naam_in_tekst     | true   | gefaald | achternaam, tekst |

  @V06 @grensgeval
  Abstract Scenario: Een meldpunt dat een opnieuw verstuurde melding wel of niet opnieuw registreert
    Gegeven de keten met voor "<meldpunt>" de instelling <instelling> op <waarde>
    Als de politie een melding doet over iemand in het werkgebied van "<meldpunt>"
    En het postkantoor dezelfde melding nog een keer verstuurt
    En de verzending wordt getoetst aan V06
    Dan is de uitslag "<uitslag>"
    En noemt de toelichting "<toelichting>"

    Voorbeelden:
      | meldpunt                  | instelling                  | waarde | uitslag  | toelichting                    |
      | ggd-regio-utrecht         | schakelaar.dubbel_verwerken | false  | geslaagd | precies één keer, 2 ontvangsten |
      | meldpunt-gooi-vechtstreek | schakelaar.dubbel_verwerken | true   | gefaald  | 2 keer, afgesproken is precies één keer |

  @V07 @grensgeval
  Abstract Scenario: Een ontvangstbevestiging net binnen en net buiten de termijn
    Gegeven de keten met voor "<meldpunt>" de instelling <instelling> op <waarde>
    Als de politie een melding doet over iemand in het werkgebied van "<meldpunt>"
    En de verzending wordt getoetst aan V07
    Dan is de uitslag "<uitslag>"
    En noemt de toelichting "<toelichting>"

    Voorbeelden:
      | meldpunt                  | instelling                         | waarde | uitslag  | toelichting                           |
      | ggd-flevoland             | schakelaar.bevestiging_na_minuten  | 14     | geslaagd | binnen 15 minuten                      |
      | meldpunt-gooi-vechtstreek | schakelaar.bevestiging_na_minuten  | 16     | gefaald  | later dan de afgesproken 15 minuten    |
      | ggd-regio-utrecht         | schakelaar.bevestigen              | false  | gefaald  | geen ontvangstbevestiging, binnen 15 minuten |

  @V08 @grensgeval
  Abstract Scenario: Een terugkoppeling net binnen en net buiten de termijn
    Gegeven de keten met voor "<meldpunt>" de instelling <instelling> op <waarde>
    Als de politie een melding doet over iemand in het werkgebied van "<meldpunt>"
    En de verzending wordt getoetst aan V08
    Dan is de uitslag "<uitslag>"
    En noemt de toelichting "<toelichting>"

    Voorbeelden:
      | meldpunt                  | instelling                             | waarde     | uitslag  | toelichting                 |
      | ggd-regio-utrecht         | schakelaar.terugkoppeling_na_werkdagen | 4          | geslaagd | binnen 5 werkdagen          |
      | ggd-flevoland             | schakelaar.terugkoppeling_na_werkdagen | 6          | gefaald  | na de termijn van 5 werkdagen |
      | meldpunt-gooi-vechtstreek | schakelaar.terugkoppeling_status       | afgesloten | geslaagd | afgesloten                  |

  @V09 @grensgeval
  Abstract Scenario: Storingen bij een meldpunt en de eindtoestand van de melding
    Gegeven de keten met voor "<meldpunt>" de instelling <instelling> op <waarde>
    Als de politie een melding doet over iemand in het werkgebied van "<meldpunt>"
    En de verzending wordt getoetst aan V09
    Dan is de uitslag "<uitslag>"
    En noemt de toelichting "<toelichting>"

    Voorbeelden:
      | meldpunt                  | instelling                     | waarde | uitslag  | toelichting                      |
      | ggd-regio-utrecht         | schakelaar.mail.temp_failures  | 3      | geslaagd | back-off, 3 herhaling(en)        |
      | ggd-flevoland             | schakelaar.mail.perm_failure   | true   | geslaagd | onbestelbaar, agent              |
      | meldpunt-gooi-vechtstreek | schakelaar.bevestigen          | false  | gefaald  | geen eindtoestand, zonder bevestiging |
