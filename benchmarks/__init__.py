"""Speed benchmarks of the lab: ``speed`` registers the ratios ``python -m suite bench`` measures; the ``test_*``
files are pytest-benchmark timings, which the unit tests in tests/ do not run."""
