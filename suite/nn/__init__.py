"""Reusable network pieces.

The names below load on first use (PEP 562), so that importing a torch-free part of this package, such as
:mod:`suite.nn.variants` from an ablation's declaration, does not import torch: `list` and `show` stay fast.
"""

import importlib

_HOMES = {
    **{name: "suite.nn.mlp" for name in ("ACTIVATIONS", "BN_PLACEMENTS", "INITS", "MLP", "init_linear", "usual_init")},
    **{name: "suite.nn.recurrent" for name in ("GRU", "LSTM", "RNN", "SequenceModel")},
}
__all__ = list(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module 'suite.nn' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
