"""Speed benchmarks (pytest-benchmark); the unit tests in tests/ do not run them."""
