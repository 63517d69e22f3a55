"""The U-Net and its geometry (paper, Fig. 1)."""
