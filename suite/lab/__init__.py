"""The lab: what experiments are made of - networks, training loops, tasks and datasets as tensors, probes and
optimization problems.

Ablation modules use the lab; the engine (the rest of ``suite``) never imports it. Every training loop here keeps
one contract: it trains K >= 1 members (one run context each) and returns, per member, its metrics or a
:class:`suite.context.Diverged`, never raising for one member. :mod:`suite.lab.names` is torch-free, so that
declarations can import it and ``list`` stays fast.
"""
