"""Transform: overlap-tile preprocessing (paper, Fig. 2) and the preprocessing_fn."""
