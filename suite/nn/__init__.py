"""Reusable network pieces."""

from suite.nn.mlp import ACTIVATIONS, INITS, MLP, usual_init

__all__ = ["ACTIVATIONS", "INITS", "MLP", "usual_init"]
