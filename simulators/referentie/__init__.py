"""Reference implementations run beside the keten as a second opinion:
a real Postfix as a DANE-enforcing sender (:mod:`simulators.referentie.postfix`)."""
