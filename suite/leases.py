"""Leases: how processes that share a results directory claim runs, so that no run is trained twice and no claim
left behind by a process that is gone blocks anyone.

A claim is a ``<key>.lock`` file created exclusively. It says who holds it - host, boot, PID namespace, PID and
the process's start time (which tells a reused PID apart) - and carries a token of its own; its modification time
is a heartbeat: the holder renews every claim it still holds (its token is still in the file) every
``HEARTBEAT_S``. A claim is stale when its heartbeat is older than the lease (a process on another host that
died, or any holder that stopped renewing), or when its holder runs on this very system (same boot and PID
namespace) and its process is gone or is another process with the same PID. A stale claim is taken over with a
one-line warning, under a second exclusive file (``<key>.takeover``), so that of several processes that find it
stale at once exactly one takes it.

OS file locks (``fcntl``, as in the filelock and portalocker packages) were weighed: they free a lock when its
process dies, but not reliably across hosts on network file systems (the cluster set-up in the README), they say
nothing about who holds a lock, and a process that claims hundreds of runs would hold hundreds of open files.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from suite.errors import SuiteError, UsageError

LEASE_VAR = "SUITE_LEASE_S"
DEFAULT_LEASE_S = 300.0  # a claim not renewed for this long is stale
TAKEOVER_STALE_S = 60.0  # a takeover file this old belongs to a process that died while taking over
HOST = socket.gethostname()
log = logging.getLogger("suite.leases")


def lease_s() -> float:
    """The lease, from ``$SUITE_LEASE_S`` (seconds) when set."""
    text = os.environ.get(LEASE_VAR)
    if not text:
        return DEFAULT_LEASE_S
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value >= 1:
        raise UsageError(f"${LEASE_VAR}={text!r}: the lease must be a number of seconds, at least 1")
    return value


HEARTBEAT_S = 30.0  # how often a holder renews its claims (a tenth of the lease, when that is shorter)


def process_start(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, from /proc), or None where that cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22; the command name before it may hold spaces


@functools.cache
def _system() -> dict:
    """What tells this system apart from another with the same host name: the boot and the PID namespace."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        boot = None
    try:
        pidns = str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        pidns = None
    return {"host": HOST, "boot": boot, "pidns": pidns}


def _me() -> dict:
    pid = os.getpid()  # per call: a forked child claims as itself
    return _system() | {"pid": pid, "start": process_start(pid)}


@dataclass
class Holder:
    host: str
    pid: int
    start: str | None
    age_s: float  # since its last heartbeat
    token: str | None = None
    boot: str | None = None
    pidns: str | None = None


def holder(lock: Path) -> Holder | None:
    """Who holds ``lock`` (None when it is gone)."""
    try:
        stat_before = lock.stat()
        text = lock.read_text()
    except FileNotFoundError:
        return None
    age = time.time() - stat_before.st_mtime
    try:
        who = json.loads(text)
        return Holder(who["host"], int(who["pid"]), who.get("start"), age, who.get("token"), who.get("boot"),
                      who.get("pidns"))
    except (ValueError, KeyError, TypeError):
        parts = text.split()  # a claim of an earlier version: "host pid"
        if len(parts) == 2 and parts[1].isdigit():
            return Holder(parts[0], int(parts[1]), None, age)
        return Holder("?", -1, None, age)  # being written, or garbage left by a crash: only the heartbeat tells


def _same_system(h: Holder) -> bool:
    """Whether the holder's PID means a process here: same host name and, where the claim says, same boot and
    PID namespace (two containers or two machines can share a host name)."""
    if h.host != HOST or h.pid < 0:
        return False
    mine = _system()
    return all(getattr(h, k) is None or mine[k] is None or getattr(h, k) == mine[k] for k in ("boot", "pidns"))


def stale(h: Holder) -> str | None:
    """Why the claim of ``h`` no longer holds, or None while it does."""
    lease = lease_s()
    if h.age_s > lease:
        return f"no heartbeat for {h.age_s:.0f} s (lease {lease:.0f} s)"
    if not _same_system(h):
        return None  # another system's process: only its heartbeat can tell
    try:
        os.kill(h.pid, 0)
    except ProcessLookupError:
        return f"its process {h.pid} is gone"
    except PermissionError:
        pass  # alive, another user's
    if h.start is not None and (now := process_start(h.pid)) is not None and now != h.start:
        return f"PID {h.pid} is another process now"
    return None


def _create(path: Path, content: str) -> bool:
    """Create ``path`` exclusively with ``content``; False when it exists. A failed write leaves no file."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
    except FileExistsError:
        return False
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(content)
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise SuiteError(f"could not write the claim {path}: {exc.strerror or exc}") from None
    return True


class Leases:
    """The claims this process holds in one results directory, renewed by a heartbeat thread while any is held."""

    def __init__(self):
        self._held: dict[Path, str] = {}  # lock -> our token in it
        self._lock = threading.Lock()
        self._beating: threading.Thread | None = None

    def claim(self, lock: Path) -> bool:
        """Take the run whose claim is ``lock``; False while another process holds a live claim on it (or is
        taking over a stale one right now)."""
        lease = lease_s()  # a bad $SUITE_LEASE_S is one error before any claim
        lock.parent.mkdir(parents=True, exist_ok=True)
        token = uuid.uuid4().hex
        content = json.dumps(_me() | {"token": token, "claimed_at": time.time()})
        if not _create(lock, content):
            h = holder(lock)
            if h is None:  # released meanwhile
                if not _create(lock, content):
                    return False
            elif (why := stale(h)) is None or not self._take_over(lock, h, why, content):
                return False
        with self._lock:
            self._held[lock] = token
            if self._beating is None or not self._beating.is_alive():  # none yet, or a forked child's copy
                interval = min(HEARTBEAT_S, lease / 10)
                self._beating = threading.Thread(target=self._beat, args=(interval,), name="suite-lease-heartbeat",
                                                 daemon=True)
                self._beating.start()
        return True

    @staticmethod
    def _take_over(lock: Path, seen: Holder, why: str, content: str) -> bool:
        """Replace the stale claim ``seen`` by ours, under the exclusive takeover file; False when another process
        is taking it over, or has already."""
        takeover = lock.with_suffix(".takeover")
        if not _create(takeover, content):
            try:
                if time.time() - takeover.stat().st_mtime > TAKEOVER_STALE_S:
                    takeover.unlink(missing_ok=True)  # its process died while taking over; the next poll retries
            except FileNotFoundError:
                pass
            return False
        try:
            now = holder(lock)
            if now is None or (now.token, now.pid, now.host) != (seen.token, seen.pid, seen.host):
                return False  # released or taken over meanwhile: judge it afresh at the next poll
            log.warning("the claim on %s by %s is stale (%s); taking it over", lock.stem, seen.host, why)
            lock.unlink(missing_ok=True)
            return _create(lock, content)
        finally:
            takeover.unlink(missing_ok=True)

    def _ours(self, lock: Path, token: str) -> bool:
        h = holder(lock)
        return h is not None and h.token == token

    def release(self, lock: Path) -> None:
        """Give the claim up (a claim another process took over in the meantime is left to it)."""
        with self._lock:
            token = self._held.pop(lock, None)
        if token is not None and self._ours(lock, token):
            lock.unlink(missing_ok=True)

    def _beat(self, interval: float) -> None:
        """Renew every claim still held every ``interval`` seconds; end once none is held (a later claim starts a
        new beat). A claim another process took over (this one was paused past the lease) is dropped, with a
        warning."""
        while True:
            time.sleep(interval)
            with self._lock:
                held = dict(self._held)
                if not held:
                    self._beating = None
                    return
            for lock, token in held.items():
                if self._ours(lock, token):
                    try:
                        os.utime(lock)
                    except FileNotFoundError:
                        pass
                else:
                    with self._lock:
                        self._held.pop(lock, None)
                    if lock.exists():
                        log.warning("lost the claim on %s to another process (this one stopped renewing it for "
                                    "longer than the lease)", lock.stem)
