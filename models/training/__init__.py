"""The Trainer: input, augmentation, weight map, loss, metrics, execution plan, run_fn."""
