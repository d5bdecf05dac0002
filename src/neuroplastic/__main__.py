"""``python -m neuroplastic`` runs the command-line interface."""
from neuroplastic.cli import main

main()
