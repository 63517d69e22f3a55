"""Transform: TFX's, with its materialized examples labelled as tf.Examples."""
