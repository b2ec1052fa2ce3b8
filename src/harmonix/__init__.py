"""Harmonix: small autonomous text-generation organisms along a constraint gradient, joined by an observer hub."""

__version__ = "0.1.0"
