"""Seeded synthetic data sets in the layouts the ExampleGen reads, for offline runs."""
