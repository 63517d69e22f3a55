"""What the pushed model offers: the exported signatures and the prediction CLI."""
