"""The model: the network, its input transform, training, evaluation and serving."""
