"""Detection: pure, record in, signal out; windows, sketches, baselines and detectors."""
