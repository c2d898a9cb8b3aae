import pytest
import torch

from suite.process import keep_freed_memory

keep_freed_memory()  # tests that train in this process allocate as a run's workers do


@pytest.fixture
def one_thread():
    """One torch thread, as each worker of a run has: tiny ops on a busy machine slow down with more."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
