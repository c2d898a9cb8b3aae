"""The lab's names and what they mean, without torch, so that declarations can import them and ``list`` stays fast:
the recurrent cells and Greff et al.'s LSTM variants, and in words what the training loops log and the probes
measure (declarations pass these on as ``labels`` for their figures)."""

VARIANTS = ("vanilla", "NIG", "NFG", "NOG", "NIAF", "NOAF", "NP", "CIFG", "FGR")
CELLS = ("lstm", "gru", "rnn")

# What suite.lab.loop.fit logs per epoch (epoch 0 = at init).
LOOP_CURVES = {
    "train_loss": "training loss (nats)", "train_acc": "training accuracy (fraction)",
    "val_loss": "validation loss (nats)", "val_acc": "validation accuracy (fraction)",
    "test_acc": "test accuracy (fraction)", "lr": "learning rate",
}

# What suite.lab.sequences.fit_sequences logs every eval_every updates.
SEQUENCE_CURVES = {
    "train_loss": "training loss over the window (cross-entropy; adding: squared error)",
    "val_loss": "validation loss (cross-entropy; adding: squared error)",
    "val_acc": "validation accuracy (fraction)", "grad_norm": "gradient norm before clipping, over the window",
    "clipped_frac": "fraction of updates clipped, over the window",
}

# What suite.lab.probes measures, and where along the network.
LAYER_PROBES = {
    "grad_preact_norm": "pre-activation gradient norm, per example", "grad_weight_norm": "weight-gradient norm",
    "activation_var": "activation variance", "saturated_frac": "saturated units (fraction)",
    "dead_frac": "dead units (fraction)", "layer": "hidden layer (1 = nearest the input)",
}
INPUT_GRADIENT_PROBES = {
    "grad_input_norm": "input-gradient norm, per example", "t": "steps before the end of the sequence",
}
