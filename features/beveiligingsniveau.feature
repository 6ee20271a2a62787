# language: nl
Functionaliteit: Beveiligingsniveau e-maildomeinen
  Elke deelnemer (politie en meldpunten) heeft een maildomein dat voldoet aan de
  "pas toe of leg uit"-standaarden: DNSSEC, SPF, DKIM, DMARC, STARTTLS en DANE.
  Alle DNS-antwoorden komen via de valiterende resolver (Unbound) van de keten.

  @B01 @per_deelnemer @kritiek @dns
  Scenario: De DNS-gegevens van het maildomein zijn met DNSSEC beveiligd
    Gegeven de gesimuleerde keten draait
    En een deelnemer van de keten
    Als de resolver alle maildomein-records van de deelnemer opvraagt
    Dan is elk antwoord veilig (DNSSEC) en niet leeg
