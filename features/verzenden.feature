# language: nl
Functionaliteit: Verzenden en ontvangen
  Het digitaal postkantoor van de politie maakt van het meldformulier een PDF en mailt die
  naar het meldpunt van de gemeente van betrokkene, alleen over een veilige route. Het
  meldpunt bevestigt de ontvangst en koppelt later terug wat het met de melding deed.
  Alle tijden lopen op de ketenklok.

  Achtergrond:
    Gegeven de keten draait met politie en meldpunten

  @V01 @per_meldpunt @kritiek
  Scenario: De melding komt bij het meldpunt van de gemeente van betrokkene
    Gegeven een meldpunt van de keten
    Als de politie een gewone melding doet over iemand in het werkgebied van het meldpunt
    En de verzending wordt getoetst aan V01
    Dan komt de melding bij het meldpunt van de gemeente van de postcode van betrokkene

  @V01 @kritiek
  Scenario: Een melding over iemand buiten elk werkgebied wordt niet verstuurd
    Als de politie een melding doet over iemand met postcode "9711 AA" in Groningen
    Dan weigert het postkantoor de melding met het advies de alternatieve route te gebruiken
    En de verzending wordt getoetst aan V01
    En wordt de melding geweigerd en niet in de wachtrij gezet
    En noemt de foutmelding aan de agent de postcode

  @V02 @per_meldpunt @kritiek
  Scenario: De melding gaat alleen over STARTTLS met DANE-authenticatie
    Gegeven een meldpunt van de keten
    Als de politie een gewone melding doet over iemand in het werkgebied van het meldpunt
    En de verzending wordt getoetst aan V02
    Dan wordt de melding alleen overgedragen na STARTTLS met TLS 1.2 of hoger, een DANE-overeenkomst en DNSSEC-veilige MX- en TLSA-records
    En wordt zonder veilige route niets verstuurd en hoort de agent de alternatieve route te gebruiken

  @V03 @per_meldpunt @kritiek
  Scenario: Het meldpunt stelt vast dat de melding echt van de politie komt
    Gegeven een meldpunt van de keten
    Als de politie een gewone melding doet over iemand in het werkgebied van het meldpunt
    En de verzending wordt getoetst aan V03
    Dan weigert het meldpunt de melding niet om de afzenderauthenticatie
    En legt het meldpunt zijn controle vast in een eigen Authentication-Results-kopregel
    En slaagt SPF voor het afzendadres van de politie
    En slaagt DKIM met een handtekening in lijn met het politiedomein
    En slaagt DMARC voor het From-domein van de politie
    En draagt het opgeslagen bericht een DKIM-handtekening van de politie
    En over-ondertekent die handtekening elke kopregel waar de keten op leunt
    En slaat het meldpunt de melding op in de inbox en niet in quarantaine

  @V04 @per_meldpunt @kritiek
  Scenario: De PDF die aankomt is precies het meldformulier dat de agent invulde
    Gegeven een meldpunt van de keten
    Als de politie een gewone melding doet over iemand in het werkgebied van het meldpunt
    En de verzending wordt getoetst aan V04
    Dan weigert het meldpunt de inhoud van de melding niet
    En komt de melding aan met precies één PDF, het meldformulier, en verder alleen tekst
    En bevat de PDF geen actieve inhoud en is ze niet versleuteld of beschadigd
    En zijn alle velden van het meldformulier gelijk aan de ingediende melding
    En is de PDF hoogstens 10 MB groot

  @V05 @per_meldpunt @kritiek
  Scenario: Onderwerp, kopregels en tekst bevatten geen persoonsgegevens
    Gegeven een meldpunt van de keten
    Als de politie een gewone melding doet over iemand in het werkgebied van het meldpunt
    En de verzending wordt getoetst aan V05
    Dan noemen onderwerp, X-Kenmerk en tekst het kenmerk
    En staan in onderwerp, kopregels en tekst geen persoonsgegevens: geen namen, BSN, geboortedatum, adres, postcode, gegevens van de melder, registratienummer, signaal of situatieschets

  @V06 @per_meldpunt @hoog
  Scenario: Het meldpunt registreert het kenmerk precies één keer
    Gegeven een meldpunt van de keten
    Als de politie een gewone melding doet over iemand in het werkgebied van het meldpunt
    En de verzending wordt getoetst aan V06
    Dan heeft het kenmerk de vorm XX-JJJJ-NNNNNN
    En registreert het meldpunt het kenmerk precies één keer
    En draagt elk ontvangen bericht het kenmerk van de melding
    En ontvangt de politie hoogstens één ontvangstbevestiging voor het kenmerk

  @V06 @per_meldpunt @hoog
  Scenario: Een opnieuw verstuurde melding houdt haar kenmerk en wordt één keer geregistreerd
    Gegeven een meldpunt van de keten
    Als de politie een melding doet over iemand in het werkgebied van het meldpunt
    En het postkantoor dezelfde melding nog een keer verstuurt
    En de verzending wordt getoetst aan V06
    Dan registreert het meldpunt het kenmerk precies één keer
    En draagt elk ontvangen bericht het kenmerk van de melding
    En ontvangt de politie hoogstens één ontvangstbevestiging voor het kenmerk
    En heeft het kenmerk de vorm XX-JJJJ-NNNNNN

  @V06 @hoog
  Scenario: Het postkantoor geeft elke melding een eigen kenmerk
    Als de politie voor elk meldpunt een gewone melding doet
    En de kenmerken van alle meldingen van deze run worden getoetst aan V06
    Dan krijgt elke melding een eigen kenmerk

  @V07 @per_meldpunt @hoog
  Scenario: Het meldpunt bevestigt de ontvangst op tijd over een veilige route
    Gegeven een meldpunt van de keten
    Als de politie een gewone melding doet over iemand in het werkgebied van het meldpunt
    En de verzending wordt getoetst aan V07
    Dan ontvangt de politie een ontvangstbevestiging met het kenmerk van de melding
    En komt de ontvangstbevestiging binnen 15 minuten op de ketenklok bij de politie
    En gaat de ontvangstbevestiging naar het antwoordadres van de politie na STARTTLS met TLS 1.2 of hoger, een DANE-overeenkomst en DNSSEC-veilige MX- en TLSA-records

  @V07 @per_meldpunt @hoog
  Abstract Scenario: Alleen het meldpunt waar de melding heen ging kan haar bevestigen
    Gegeven een meldpunt van de keten
    Als de politie een melding doet over iemand in het werkgebied van het meldpunt
    En een aanvaller de politie een ontvangstbevestiging voor die melding stuurt: <hoe>
    Dan telt het postkantoor die ontvangstbevestiging niet mee

    Voorbeelden:
      | hoe                                                     |
      | zonder handtekening, van buiten de keten                |
      | echt ondertekend, door een ander meldpunt               |
      | een echte van een andere melding, met dit kenmerk ervoor |

  @V08 @per_meldpunt @normaal
  Scenario: Het meldpunt koppelt binnen de termijn terug wat het met de melding deed
    Gegeven een meldpunt van de keten
    Als de politie een gewone melding doet over iemand in het werkgebied van het meldpunt
    En de verzending wordt getoetst aan V08
    Dan koppelt het meldpunt binnen 5 werkdagen op de ketenklok terug wat het met de melding deed
    En heeft elke terugkoppeling de status "in behandeling", "doorgezet" of "afgesloten"

  @V09 @per_meldpunt @kritiek
  Scenario: De melding eindigt in precies één eindtoestand
    Gegeven een meldpunt van de keten
    Als de politie een gewone melding doet over iemand in het werkgebied van het meldpunt
    En de verzending wordt getoetst aan V09
    Dan eindigt de melding in precies één eindtoestand: "bezorgd en bevestigd" of "onbestelbaar"
    En herhaalt het postkantoor een tijdelijke fout ten minste 24 uur met steeds langere tussenpozen
    En hoort de agent binnen 15 minuten na de laatste poging dat de melding onbestelbaar is
    En is de melding hoogstens één keer bezorgd en door het meldpunt één keer ontvangen
