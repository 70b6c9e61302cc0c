"""``python -m parity`` runs the CLI."""

from parity.cli import main

main()
