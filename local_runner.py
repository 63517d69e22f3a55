"""Runs the petunet pipeline locally (the components after the network land in later parts)."""

import sys

if __name__ == "__main__":
    sys.exit(
        "petunet: the pipeline components (ExampleGen, Transform, Trainer, Evaluator, Pusher) "
        "are not wired yet; only the network and its geometry exist (models/unet.py)."
    )
