"""Neural network modules re-implemented in plain PyTorch (AutoGaze's gaze model is the `autogaze` package)."""
