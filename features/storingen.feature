# language: nl
Functionaliteit: Storingen en misbruik
  De keten moet storingen bij een meldpunt en misbruik door derden overleven: niets raakt
  zoek, niets gaat over een onveilige route, en een vervalste of vijandige melding wordt
  nooit als echte melding behandeld.

  Achtergrond:
    Gegeven de keten draait met politie en meldpunten
    En een meldpunt van de keten

  @S01 @per_meldpunt @kritiek
  Scenario: Een meldpunt dat tijdelijk 4xx antwoordt krijgt de melding later precies één keer
    Gegeven het meldpunt antwoordt de eerste 3 keer met een tijdelijke fout (4xx)
    Als de politie een melding doet over iemand in het werkgebied van het meldpunt
    Dan is de melding precies één keer bezorgd, na 4 pogingen
    En de verzending wordt getoetst aan V09
    En eindigt de melding in precies één eindtoestand: "bezorgd en bevestigd" of "onbestelbaar"
    En herhaalt het postkantoor een tijdelijke fout ten minste 24 uur met steeds langere tussenpozen
    En is de melding hoogstens één keer bezorgd en door het meldpunt één keer ontvangen

  @S02 @per_meldpunt @kritiek
  Scenario: Een meldpunt dat 5xx antwoordt maakt de melding onbestelbaar en de agent weet het
    Gegeven het meldpunt weigert alle mail met een permanente fout (5xx)
    Als de politie een melding doet over iemand in het werkgebied van het meldpunt
    Dan is de melding onbestelbaar na één poging en weet de agent waarom
    En de verzending wordt getoetst aan V09
    En eindigt de melding in precies één eindtoestand: "bezorgd en bevestigd" of "onbestelbaar"
    En hoort de agent binnen 15 minuten na de laatste poging dat de melding onbestelbaar is
    En is de melding hoogstens één keer bezorgd en door het meldpunt één keer ontvangen

  @S03 @per_meldpunt @kritiek
  Scenario: Verlopen DNSSEC-handtekeningen bij het meldpunt: de melding wordt niet verstuurd
    Gegeven de DNSSEC-handtekeningen van het maildomein van het meldpunt zijn verlopen
    Als de politie een melding doet over iemand in het werkgebied van het meldpunt
    Dan is de melding niet verstuurd en weet de agent dat hij de alternatieve route moet gebruiken
    En de verzending wordt getoetst aan V02
    En wordt zonder veilige route niets verstuurd en hoort de agent de alternatieve route te gebruiken
    En wordt de melding alleen overgedragen na STARTTLS met TLS 1.2 of hoger, een DANE-overeenkomst en DNSSEC-veilige MX- en TLSA-records

  @S03 @per_meldpunt @kritiek
  Scenario: Een kapotte DS bij het meldpunt: de melding wordt niet verstuurd
    Gegeven de DS van het maildomein van het meldpunt past niet bij zijn sleutel
    Als de politie een melding doet over iemand in het werkgebied van het meldpunt
    Dan is de melding niet verstuurd en weet de agent dat hij de alternatieve route moet gebruiken

  @S04 @per_meldpunt @kritiek
  Scenario: Een vervangen certificaat zonder nieuwe TLSA: de melding wordt niet verstuurd
    Gegeven het meldpunt presenteert een nieuw certificaat met een nieuwe sleutel van een andere CA zonder de TLSA-records bij te werken
    Als de politie een melding doet over iemand in het werkgebied van het meldpunt
    Dan is de melding niet verstuurd en weet de agent dat hij de alternatieve route moet gebruiken
    En de verzending wordt getoetst aan V02
    En wordt zonder veilige route niets verstuurd en hoort de agent de alternatieve route te gebruiken
    En wordt de melding alleen overgedragen na STARTTLS met TLS 1.2 of hoger, een DANE-overeenkomst en DNSSEC-veilige MX- en TLSA-records

  @S05 @per_meldpunt @kritiek
  Scenario: Een aanvaller haalt STARTTLS weg: de melding wordt niet verstuurd
    Gegeven een aanvaller tussen politie en meldpunt haalt STARTTLS weg
    Als de politie een melding doet over iemand in het werkgebied van het meldpunt
    Dan is de melding niet verstuurd en weet de agent dat hij de alternatieve route moet gebruiken

  @S05 @per_meldpunt @kritiek
  Scenario: Een meldpunt dat alleen verouderde TLS spreekt krijgt de melding niet
    Gegeven het meldpunt biedt alleen TLS 1.0 en 1.1 aan
    Als de politie een melding doet over iemand in het werkgebied van het meldpunt
    Dan is de melding niet verstuurd en weet de agent dat hij de alternatieve route moet gebruiken

  @S06 @per_meldpunt @kritiek
  Scenario: Een vervalste melding uit naam van de politie wordt geweigerd
    Als een aanvaller een melding stuurt met het afzenderadres van de politie, zonder DKIM, van een onbekend adres
    Dan weigert het meldpunt het bericht op grond van DMARC
    En registreert het meldpunt geen melding met dat kenmerk

  @S06 @per_meldpunt @kritiek
  Scenario: Een melding van een afzender zonder DMARC-record wordt niet geregistreerd en niet bevestigd
    Als een buitenstaander zonder DMARC-record het meldpunt een melding stuurt met een kenmerk in het onderwerp
    Dan zet het meldpunt het bericht in quarantaine met de reden
    En registreert het meldpunt geen melding met dat kenmerk
    En stuurt het meldpunt geen ontvangstbevestiging voor dat kenmerk

  @S06 @per_meldpunt @kritiek
  Scenario: Een buitenstaander met het kenmerk van een echte melding verandert die melding niet
    Als de politie een melding doet over iemand in het werkgebied van het meldpunt
    En een buitenstaander zonder DMARC-record het meldpunt een bericht stuurt met het kenmerk van die melding
    Dan zet het meldpunt het bericht in quarantaine met de reden
    En heeft het meldpunt die melding nog steeds precies één keer ontvangen

  @S06 @per_meldpunt @kritiek
  Scenario: Een echte melding die een aanvaller met een ander kenmerk ervoor opnieuw afspeelt, wordt geen nieuwe melding
    Als de politie een melding doet over iemand in het werkgebied van het meldpunt
    En een aanvaller die melding met een ander kenmerk ervoor opnieuw afspeelt vanaf een eigen adres
    Dan registreert het meldpunt geen melding met dat kenmerk
    En stuurt het meldpunt geen ontvangstbevestiging voor dat kenmerk

  @S07 @per_meldpunt @kritiek
  Scenario: Een PDF met actieve inhoud wordt geweigerd en het meldpunt blijft werken
    Als de politie een melding stuurt met een PDF met JavaScript erin
    Dan weigert het meldpunt het bericht met een reden over de PDF
    En registreert het meldpunt geen melding met dat kenmerk
    En neemt het meldpunt daarna een gewone melding gewoon aan

  @S07 @per_meldpunt @kritiek
  Scenario: Een vijandige PDF verstopt naast het goede meldformulier wordt geweigerd
    Als de politie een melding stuurt met het goede meldformulier en daarnaast een verstopte PDF met JavaScript
    Dan weigert het meldpunt het bericht met een reden over de PDF
    En registreert het meldpunt geen melding met dat kenmerk

  @S08 @per_meldpunt @kritiek
  Scenario: Een verbinding die wegvalt tijdens DATA: geen halve melding, later precies één keer bezorgd
    Gegeven de verbinding valt een keer weg tijdens DATA
    Als de politie een melding doet over iemand in het werkgebied van het meldpunt
    Dan is de melding precies één keer bezorgd, na 2 pogingen
    En de verzending wordt getoetst aan V09
    En eindigt de melding in precies één eindtoestand: "bezorgd en bevestigd" of "onbestelbaar"
    En herhaalt het postkantoor een tijdelijke fout ten minste 24 uur met steeds langere tussenpozen
    En is de melding hoogstens één keer bezorgd en door het meldpunt één keer ontvangen

  @S08 @per_meldpunt @kritiek
  Scenario: Een meldpunt dat crasht terwijl een melding binnenkomt: na de herstart precies één keer bezorgd en geregistreerd
    Gegeven het meldpunt blijft hangen nadat de inhoud van een melding binnen is, vóór zijn antwoord
    Als de politie een melding doet over iemand in het werkgebied van het meldpunt en het meldpunt crasht terwijl die binnenkomt
    Dan is de melding precies één keer bezorgd, na 2 pogingen
    En heeft het meldpunt de melding precies één keer geregistreerd en bevestigd
    En de verzending wordt getoetst aan V09
    En eindigt de melding in precies één eindtoestand: "bezorgd en bevestigd" of "onbestelbaar"
    En herhaalt het postkantoor een tijdelijke fout ten minste 24 uur met steeds langere tussenpozen
    En is de melding hoogstens één keer bezorgd en door het meldpunt één keer ontvangen

  @S08 @per_meldpunt @kritiek
  Scenario: Een meldpunt dat crasht na zijn 250 maar vóór de registratie verliest de melding niet
    Gegeven de backoffice van het meldpunt verwerkt binnenkomende mail nog niet
    Als de politie een melding doet over iemand in het werkgebied van het meldpunt en het meldpunt crasht direct nadat het de melding met 250 heeft aangenomen
    Dan is de melding precies één keer bezorgd, na 1 poging
    En heeft het meldpunt de melding precies één keer geregistreerd en bevestigd
    En de verzending wordt getoetst aan V09
    En eindigt de melding in precies één eindtoestand: "bezorgd en bevestigd" of "onbestelbaar"
    En is de melding hoogstens één keer bezorgd en door het meldpunt één keer ontvangen
