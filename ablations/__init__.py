"""One module per claim family; each registers its ablations with ``suite.registry.ablation``."""
