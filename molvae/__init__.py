"""molvae: a SELFIES GRU-VAE for molecular generation.

Public API: :class:`MolVAE` (load a model; encode, decode, sample). Heavy modules (torch,
RDKit) are imported on first use, so ``import molvae`` stays cheap.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["MolVAE", "__version__"]


def __getattr__(name: str):
    if name == "MolVAE":
        from molvae.vae import MolVAE

        return MolVAE
    raise AttributeError(f"module 'molvae' has no attribute {name!r}")
