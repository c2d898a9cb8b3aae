"""How a process that trains is set up: its thread counts and its C allocator.

Every worker of a run, and the benchmarks that stand for one, call :func:`configure` before training.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import platform

# glibc's mallopt parameters (malloc.h) and values. Left at their defaults, glibc serves every block above 128 KiB
# (raised dynamically, at most to 32 MiB) with a fresh mmap and gives it back on free, so each of the thousands of
# 0.2-30 MB temporaries of a training step page-faults its memory in again: a grouped LSTM step spent about 40% of
# its time there (benchmarks/test_bench_recurrent.py). Blocks up to the 32 MiB ceiling come from the heap instead,
# and up to 256 MiB of freed memory stays with the process.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 << 20   # bytes; DEFAULT_MMAP_THRESHOLD_MAX on 64-bit glibc
TRIM_THRESHOLD = 256 << 20  # bytes


@functools.lru_cache(maxsize=None)
def keep_freed_memory() -> bool:
    """Have glibc reuse freed large blocks instead of unmapping them (see above). Returns whether it applied: False
    on a C library other than glibc (macOS, musl), where nothing changes."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(libc.mallopt(_M_TRIM_THRESHOLD,
                                                                                          TRIM_THRESHOLD))
    except (OSError, AttributeError):  # a C library without mallopt: training runs as before, only slower
        return False


def configure(threads: int) -> None:
    """Set this process up to train: ``threads`` threads for torch and for numpy's BLAS (workers x threads must not
    exceed the cores), and the allocator of :func:`keep_freed_memory`."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    threadpool_limits(threads)
    keep_freed_memory()
