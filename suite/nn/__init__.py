"""Reusable network pieces."""

from suite.nn.mlp import ACTIVATIONS, BN_PLACEMENTS, INITS, MLP, init_linear, usual_init

__all__ = ["ACTIVATIONS", "BN_PLACEMENTS", "INITS", "MLP", "init_linear", "usual_init"]
from suite.nn.recurrent import GRU, LSTM, RNN, SequenceModel  # noqa: E402,F401
