"""Collects every .feature file under features/: no per-feature boilerplate."""

from pytest_bdd import scenarios

scenarios(".")
