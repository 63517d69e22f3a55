"""Benchmarks (not tests): `python -m bench` lists them, `python -m bench NAME` runs one, which
prints a table and writes its JSON to outputs/bench/ (bench/results/ holds the committed
baselines)."""
