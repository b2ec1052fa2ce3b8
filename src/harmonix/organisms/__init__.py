"""Organisms: one field + one engine + the observer maths each; one file per organism."""
