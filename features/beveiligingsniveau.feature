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
    Dan valideert het maildomein als veilig met DNSSEC
    En valideert elke MX-host als veilig met DNSSEC
    En zijn alle MX-hosts op DNSSEC getoetst (hoogstens 10 MX-hosts)

  @B02 @per_deelnemer @kritiek
  Scenario: Het maildomein heeft precies één geldig SPF-record dat eindigt op -all
    Als het maildomein van de deelnemer wordt gecontroleerd op B02
    Dan publiceert het maildomein precies één SPF-record
    En is elk SPF-record in de boom syntactisch geldig
    En bestaan alle domeinen waar het SPF-record naar verwijst
    En vraagt het SPF-record hoogstens 10 DNS-opvragingen en 2 lege
    En eindigt het SPF-record op "-all"

  @B03 @per_deelnemer @kritiek
  Scenario: Het maildomein publiceert sterke DKIM-sleutels
    Als het maildomein van de deelnemer wordt gecontroleerd op B03
    Dan bestaat _domainkey onder het maildomein
    En publiceert elke DKIM-selector precies één geldige sleutel
    En is elke DKIM-sleutel Ed25519 of RSA van minstens 2048 bits
    En wordt de DKIM-ondertekening van uitgaande mail getoetst op ontvangen mail (V03)

  @B04 @per_deelnemer @kritiek
  Scenario: Het maildomein heeft een geldig DMARC-record met p=reject
    Als het maildomein van de deelnemer wordt gecontroleerd op B04
    Dan publiceert het maildomein precies één DMARC-record
    En is het DMARC-record syntactisch geldig
    En staat het DMARC-beleid op "p=reject" voor alle mail
    En noemt het verslag ter informatie waar de DMARC-rapporten heen gaan

  @B05 @per_deelnemer @kritiek
  Scenario: Elke mailserver van het maildomein biedt STARTTLS met veilige TLS-instellingen
    Als het maildomein van de deelnemer wordt gecontroleerd op B05
    Dan zijn alle adressen van alle MX-hosts op STARTTLS getoetst (hoogstens 10 MX-hosts)
    En biedt elk adres STARTTLS aan
    En accepteert elk adres alleen TLS 1.2 of hoger
    En accepteert elk adres alleen cipher suites die het NCSC goed of voldoende noemt
    En kiest elke server zelf de sterkste cipher suite
    En gebruikt elk adres voor de sleuteluitwisseling alleen groepen die het NCSC goed of voldoende noemt
    En gebruikt geen enkel adres TLS-compressie
    En ondersteunt elk adres secure renegotiation
    En weigert elk adres renegotiation die de client start
    En heeft elk certificaat een ECDSA- of EdDSA-sleutel of RSA van minstens 3072 bits
    En is elk certificaat ondertekend met SHA-256 of sterker
    En noemt het verslag ter informatie extended master secret en het vertrouwen in het certificaat

  @B06 @per_deelnemer @kritiek
  Scenario: Elke mailserver heeft een veilige TLSA die past bij het certificaat (DANE)
    Als het maildomein van de deelnemer wordt gecontroleerd op B06
    Dan zijn alle MX-hosts op DANE getoetst (hoogstens 10 MX-hosts)
    En heeft elke MX-host een met DNSSEC beveiligd TLSA-record met usage 2 of 3
    En past elk certificaat dat een MX-host presenteert bij een TLSA-record
    En heeft elke MX-host een reserve-TLSA-record voor een sleutelwissel
