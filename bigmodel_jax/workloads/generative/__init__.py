"""Generative models of images (DCGAN / WGAN-GP, VAE), their shared grids, scores and sample mode."""
