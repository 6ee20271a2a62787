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
    Dan voldoet de verzending aan de afspraak

  @V01 @kritiek
  Scenario: Een melding over iemand buiten elk werkgebied wordt niet verstuurd
    Als de politie een melding doet over iemand met postcode "9711 AA" in Groningen
    Dan weigert het postkantoor de melding met het advies de alternatieve route te gebruiken
    En de verzending wordt getoetst aan V01
    En voldoet de verzending aan de afspraak

  @V02 @per_meldpunt @kritiek
  Scenario: De melding gaat alleen over STARTTLS met DANE-authenticatie
    Gegeven een meldpunt van de keten
    Als de politie een gewone melding doet over iemand in het werkgebied van het meldpunt
    En de verzending wordt getoetst aan V02
    Dan voldoet de verzending aan de afspraak

  @V03 @per_meldpunt @kritiek
  Scenario: Het meldpunt stelt vast dat de melding echt van de politie komt
    Gegeven een meldpunt van de keten
    Als de politie een gewone melding doet over iemand in het werkgebied van het meldpunt
    En de verzending wordt getoetst aan V03
    Dan voldoet de verzending aan de afspraak

  @V04 @per_meldpunt @kritiek
  Scenario: De PDF die aankomt is precies het meldformulier dat de agent invulde
    Gegeven een meldpunt van de keten
    Als de politie een gewone melding doet over iemand in het werkgebied van het meldpunt
    En de verzending wordt getoetst aan V04
    Dan voldoet de verzending aan de afspraak

  @V05 @per_meldpunt @kritiek
  Scenario: Onderwerp, kopregels en tekst bevatten geen persoonsgegevens
    Gegeven een meldpunt van de keten
    Als de politie een gewone melding doet over iemand in het werkgebied van het meldpunt
    En de verzending wordt getoetst aan V05
    Dan voldoet de verzending aan de afspraak

  @V06 @per_meldpunt @hoog
  Scenario: Het meldpunt registreert het kenmerk precies één keer
    Gegeven een meldpunt van de keten
    Als de politie een gewone melding doet over iemand in het werkgebied van het meldpunt
    En de verzending wordt getoetst aan V06
    Dan voldoet de verzending aan de afspraak

  @V06 @per_meldpunt @hoog
  Scenario: Een opnieuw verstuurde melding houdt haar kenmerk en wordt één keer geregistreerd
    Gegeven een meldpunt van de keten
    Als de politie een melding doet over iemand in het werkgebied van het meldpunt
    En het postkantoor dezelfde melding nog een keer verstuurt
    En de verzending wordt getoetst aan V06
    Dan voldoet de verzending aan de afspraak

  @V07 @per_meldpunt @hoog
  Scenario: Het meldpunt bevestigt de ontvangst op tijd over een veilige route
    Gegeven een meldpunt van de keten
    Als de politie een gewone melding doet over iemand in het werkgebied van het meldpunt
    En de verzending wordt getoetst aan V07
    Dan voldoet de verzending aan de afspraak

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
    Dan voldoet de verzending aan de afspraak

  @V09 @per_meldpunt @kritiek
  Scenario: De melding eindigt in precies één eindtoestand
    Gegeven een meldpunt van de keten
    Als de politie een gewone melding doet over iemand in het werkgebied van het meldpunt
    En de verzending wordt getoetst aan V09
    Dan voldoet de verzending aan de afspraak
