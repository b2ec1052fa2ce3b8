"""Reproducible training of our models (torch lives here only, through the optional ``train`` extra)."""
