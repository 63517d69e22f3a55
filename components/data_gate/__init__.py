"""DataGate: stops the run before training when the data fails a gate."""
