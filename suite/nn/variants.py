"""Names of the recurrent cells and of Greff et al.'s LSTM variants (no torch: ablation declarations use them)."""

VARIANTS = ("vanilla", "NIG", "NFG", "NOG", "NIAF", "NOAF", "NP", "CIFG", "FGR")
CELLS = ("lstm", "gru", "rnn")
