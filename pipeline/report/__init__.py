"""The run report: one self-contained HTML file that says what went in, how training went, how good
the model is, what it does, and where it is."""
