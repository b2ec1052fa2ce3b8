"""The lab: benchmarks, experiments, the standing evaluation and the training of our models.

It stands beside the product, never under it: the lab imports the product to measure it, and nothing in the product
imports the lab. Its commands (``harmonix bench``, ``experiment``, ``eval``, ``train``) reach the command line as a
plugin (:mod:`harmonix.lab.commands`, registered under the ``harmonix.commands`` entry-point group), so a product
that leaves the lab out still has a whole command line.
"""
