"""The ExampleGen: a data folder (Oxford-IIIT Pet or nnU-Net layout) -> tf.Example splits."""
