"""molvae: a SELFIES GRU-VAE for molecular generation."""

__version__ = "0.1.0"
