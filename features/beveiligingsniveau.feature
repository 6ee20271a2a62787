# language: nl
Functionaliteit: Beveiligingsniveau e-maildomeinen
  Elke deelnemer (politie en meldpunten) heeft een maildomein dat voldoet aan de
  "pas toe of leg uit"-standaarden: DNSSEC, SPF, DKIM, DMARC, STARTTLS en DANE.
  Alle DNS-antwoorden komen via de valiterende resolver (Unbound) van de keten; de
  mailservers van alle deelnemers draaien, zodat STARTTLS en DANE echt getoetst worden.

  Achtergrond:
    Gegeven de keten draait met politie en meldpunten
    En een deelnemer van de keten

  @B01 @per_deelnemer @kritiek @dns
  Scenario: De DNS-gegevens van het maildomein zijn met DNSSEC beveiligd
    Als de resolver alle maildomein-records van de deelnemer opvraagt
    Dan is elk antwoord veilig (DNSSEC) en niet leeg

  @B01 @per_deelnemer @kritiek
  Scenario: Het maildomein en elke MX-host zijn met DNSSEC beveiligd
    Als het maildomein van de deelnemer wordt gecontroleerd op B01
    Dan voldoet het maildomein aan de afspraak

  @B02 @per_deelnemer @kritiek
  Scenario: Het maildomein heeft precies één geldig SPF-record dat eindigt op -all
    Als het maildomein van de deelnemer wordt gecontroleerd op B02
    Dan voldoet het maildomein aan de afspraak

  @B03 @per_deelnemer @kritiek
  Scenario: Het maildomein publiceert sterke DKIM-sleutels
    Als het maildomein van de deelnemer wordt gecontroleerd op B03
    Dan voldoet het maildomein aan de afspraak

  @B04 @per_deelnemer @kritiek
  Scenario: Het maildomein heeft een geldig DMARC-record met p=reject
    Als het maildomein van de deelnemer wordt gecontroleerd op B04
    Dan voldoet het maildomein aan de afspraak

  @B05 @per_deelnemer @kritiek
  Scenario: Elke mailserver van het maildomein biedt STARTTLS met veilige TLS-instellingen
    Als het maildomein van de deelnemer wordt gecontroleerd op B05
    Dan voldoet het maildomein aan de afspraak

  @B06 @per_deelnemer @kritiek
  Scenario: Elke mailserver heeft een veilige TLSA die past bij het certificaat (DANE)
    Als het maildomein van de deelnemer wordt gecontroleerd op B06
    Dan voldoet het maildomein aan de afspraak
