"""Leases: how processes that share a results directory claim runs, so that no run is trained twice and no claim
left behind by a process that is gone blocks anyone.

A claim is a ``<key>.lock`` file created exclusively. It says who holds it (host, PID and the process's start
time, which tells a reused PID apart) and its modification time is a heartbeat: the holder renews every claim it
holds every ``HEARTBEAT_S``. A claim is stale, and taken over with a one-line warning, when its heartbeat is older
than ``LEASE_S`` (a process on another host that died, or any holder that stopped renewing), or when its holder is
on this host and its process is gone or is another process with the same PID.

OS file locks (``fcntl``, as in the filelock and portalocker packages) were weighed: they free a lock when its
process dies, but not reliably across hosts on network file systems (the cluster set-up in the README), they say
nothing about who holds a lock, and a process that claims hundreds of runs would hold hundreds of open files.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

LEASE_S = float(os.environ.get("SUITE_LEASE_S", 300))  # a claim not renewed for this long is stale
HEARTBEAT_S = min(30.0, LEASE_S / 10)  # how often a holder renews its claims
HOST = socket.gethostname()
log = logging.getLogger("suite.leases")


def process_start(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, from /proc), or None where that cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22; the command name before it may hold spaces


_SELF = {"host": HOST, "pid": os.getpid(), "start": process_start(os.getpid())}


@dataclass
class Holder:
    host: str
    pid: int
    start: str | None
    age_s: float  # since its last heartbeat

    def __str__(self) -> str:
        return f"{self.host} pid {self.pid}, last heartbeat {self.age_s:.0f} s ago"


def holder(lock: Path) -> Holder | None:
    """Who holds ``lock`` (None when it is gone, or not yet written whole by its creator)."""
    try:
        text, age = lock.read_text(), time.time() - lock.stat().st_mtime
    except FileNotFoundError:
        return None
    try:
        who = json.loads(text)
        return Holder(who["host"], int(who["pid"]), who.get("start"), age)
    except (ValueError, KeyError, TypeError):
        parts = text.split()  # a claim of an earlier version: "host pid"
        if len(parts) == 2 and parts[1].isdigit():
            return Holder(parts[0], int(parts[1]), None, age)
        return Holder("?", -1, None, age)  # being written, or garbage left by a crash: only the heartbeat tells


def stale(h: Holder) -> str | None:
    """Why the claim of ``h`` no longer holds, or None while it does."""
    if h.age_s > LEASE_S:
        return f"no heartbeat for {h.age_s:.0f} s (lease {LEASE_S:.0f} s)"
    if h.host != HOST or h.pid < 0:
        return None  # another machine's process: only its heartbeat can tell
    try:
        os.kill(h.pid, 0)
    except ProcessLookupError:
        return f"its process {h.pid} is gone"
    except PermissionError:
        pass  # alive, another user's
    if h.start is not None and (now := process_start(h.pid)) is not None and now != h.start:
        return f"PID {h.pid} is another process now"
    return None


class Leases:
    """The claims this process holds in one results directory, renewed by a heartbeat thread while any is held."""

    def __init__(self):
        self._held: set[Path] = set()
        self._lock = threading.Lock()
        self._beating: threading.Thread | None = None

    def claim(self, lock: Path) -> bool:
        """Take the run whose claim is ``lock``; False while another process holds a live claim on it."""
        lock.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
            except FileExistsError:
                h = holder(lock)
                why = stale(h) if h is not None else None
                if why is None:
                    return False
                log.warning("the claim on %s by %s is stale (%s); taking it over", lock.stem, h.host, why)
                lock.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w") as fh:
                json.dump(_SELF | {"claimed_at": time.time()}, fh)
            with self._lock:
                self._held.add(lock)
                if self._beating is None:
                    self._beating = threading.Thread(target=self._beat, name="suite-lease-heartbeat", daemon=True)
                    self._beating.start()
            return True
        return False

    def release(self, lock: Path) -> None:
        with self._lock:
            self._held.discard(lock)
        lock.unlink(missing_ok=True)

    def _beat(self) -> None:
        """Renew every held claim each HEARTBEAT_S; end once none is held (a later claim starts a new beat)."""
        while True:
            time.sleep(HEARTBEAT_S)
            with self._lock:
                held = list(self._held)
                if not held:
                    self._beating = None
                    return
            for lock in held:
                try:
                    os.utime(lock)
                except FileNotFoundError:
                    pass  # released meanwhile
