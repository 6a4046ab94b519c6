"""Physical degradation models (camera noise) used to test and calibrate the restorers."""

from app.physics.camera_noise import CAMERA_PRESETS, simulate_camera_noise

__all__ = ["CAMERA_PRESETS", "simulate_camera_noise"]
