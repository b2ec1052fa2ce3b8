"""``python -m harmonix`` runs the command line."""

from harmonix.cli import main

main()
