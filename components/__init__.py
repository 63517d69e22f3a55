"""petunet's custom TFX components, one folder each."""
