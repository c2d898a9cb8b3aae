"""What every record carries about where it ran: package versions, device and CPU, threads, commit."""

from __future__ import annotations

import functools
import platform
import subprocess
from pathlib import Path


@functools.lru_cache(maxsize=None)
def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


@functools.lru_cache(maxsize=None)
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(device: str) -> dict:
    """The environment of a run on ``device`` ("cpu", "cuda" or "mps"), as stored in its record."""
    import numpy
    import torch

    if device == "cuda":
        name = torch.cuda.get_device_name()
    elif device == "mps":
        name = "Apple MPS"
    else:
        name = cpu_model()
    return {
        "python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__,
        "platform": platform.platform(), "device_name": name, "cpu": cpu_model(),
        "threads": torch.get_num_threads(), "git_commit": git_commit(),
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "cuda": torch.version.cuda if device == "cuda" else None,
    }
