"""Blind blur-kernel estimation (``--kernel auto``): coarse-to-fine, with parametric fits."""

from app.algorithms.blind.estimate import BlindEstimationError, KernelEstimate, blur_left, estimate_kernel
from app.algorithms.blind.trajectory import random_trajectory_kernel

__all__ = ["BlindEstimationError", "KernelEstimate", "blur_left", "estimate_kernel", "random_trajectory_kernel"]
