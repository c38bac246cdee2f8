"""Neural network modules re-implemented in plain PyTorch (AutoGaze's gaze model lives in `autogaze_model`)."""
