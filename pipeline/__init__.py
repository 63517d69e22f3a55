"""How a run is assembled: the TFX pipeline's wiring, the run report, synthetic data sets."""
