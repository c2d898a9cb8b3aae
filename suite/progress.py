"""The progress bar of a long run: runs done of all, elapsed time, ETA, and a tally of runs that did not finish."""

from __future__ import annotations


class progress:
    """A rich progress bar on stderr, used as ``with progress(enabled, total, label) as advance: advance(summary)``;
    silent when disabled."""

    def __init__(self, enabled: bool, total: int, label: str):
        self.enabled, self.total, self.label = enabled, total, label

    def __enter__(self):
        if not self.enabled:
            return lambda summary: None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
            TimeRemainingColumn

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("runs"),
                            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                            TextColumn("{task.fields[note]}"), console=Console(stderr=True), transient=False)
        self.bar.start()
        task = self.bar.add_task(self.label, total=self.total, note="")
        counts: dict[str, int] = {}

        def advance(summary: dict) -> None:
            counts[summary["status"]] = counts.get(summary["status"], 0) + 1
            note = ", ".join(f"{n} {s}" for s, n in counts.items() if s != "ok")
            self.bar.update(task, advance=1, note=note)

        return advance

    def __exit__(self, *exc):
        if self.enabled:
            self.bar.stop()
        return False
