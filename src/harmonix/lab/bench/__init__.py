"""Benchmarks: what our choices cost or save, each measured side by side with its comparison in one run."""
