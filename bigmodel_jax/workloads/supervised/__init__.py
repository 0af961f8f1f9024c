"""Supervised learning: image classification and regression, with its metrics and plots."""
