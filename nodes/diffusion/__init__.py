"""Diffusion backends on diffusers: pipelines, size rules, step callbacks, image-to-video."""
