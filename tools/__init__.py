"""Maintainer tools, run from the repository root as modules (``python -m tools.ship_stage``):
shipping a trained stage, mutation testing, the overlay screenshot. Not installed with kerfer."""
