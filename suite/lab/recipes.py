"""What the chapter-5 declarations share, without torch: the training recipe's config values and the metrics that
:func:`suite.lab.vision.train_classifier` records (declarations import this; ``list`` stays fast)."""

from suite.declare import Param

ADAM_LRS = [0.001, 0.003, 0.01, 0.03]  # half-decades around Greydanus's (2020) 0.01 for Adam
TUNED = {"lr": "val_acc"}  # each arm at the rate of the grid with the best mean validation accuracy


def recipe(epochs: int, batch_size: int = 64, optimizer: str = "adam", eval_every: int = 3) -> dict[str, Param]:
    """The config of one classifier run: budget, minibatch, optimizer (PyTorch's defaults apart from the rate),
    and how often the three splits are evaluated for the curves: evaluating them every epoch costs a small CNN a
    third of its training time; the last epoch is always evaluated."""
    return {
        "epochs": Param(epochs, min=1, help="passes over the training set"),
        "batch_size": Param(batch_size, min=2, help="minibatch size"),
        "optimizer": Param(optimizer, choices=("sgd", "momentum", "nesterov", "adam"),
                           help="optimizer; momentum and nesterov at 0.9"),
        "eval_every": Param(eval_every, min=1, help="epochs between evaluations of the curves"),
    }


CLASSIFIER_METRICS = {
    "test_acc": "test accuracy after the budget (fraction)",
    "val_acc": "validation accuracy after the budget (fraction); picks each arm's learning rate",
    "val_loss": "validation cross-entropy after the budget (nats)",
    "train_loss": "training cross-entropy after the budget, in eval mode (nats)",
    "train_acc": "training accuracy after the budget, in eval mode (fraction)",
    "train_err": "training error after the budget: 1 - training accuracy (fraction)",
    "n_params": "trained parameters of the network (count)",
}
