# language: nl
Functionaliteit: Grensgevallen van het beveiligingsniveau
  Per afspraak een tabel met configuraties die niet of net wel voldoen, en de uitslag die de
  ketentest dan geeft. Elke regel draait de keten met één instelling van één deelnemer anders,
  zoals in het ketenbestand (docs/keten-formaat.md), en controleert het maildomein.
  Een testcoördinator voegt een geval toe door een regel aan een tabel toe te voegen.

  @B02 @grensgeval
  Abstract Scenario: SPF-records die niet of net wel voldoen
    Gegeven de keten met voor "<deelnemer>" de instelling <instelling> op <waarde>
    Als het maildomein van "<deelnemer>" wordt gecontroleerd op B02
    Dan is de uitslag "<uitslag>"
    En noemt de toelichting "<toelichting>"

    Voorbeelden:
      | deelnemer                | instelling    | waarde                                              | uitslag      | toelichting       |
      | ggd-regio-utrecht        | maildomein.spf | v=spf1 ip4:127.60.2.10 ~all                         | waarschuwing | ~all              |
      | meldpunt-gooi-vechtstreek | maildomein.spf | v=spf1 ip4:127.60.4.10 +all                         | gefaald      | +all              |
