"""One stderr progress bar for long work (``crop``, ``live --source FILE --headless``, ``report``):
shown only when the stream is a terminal, so logs and pipes get none."""

from __future__ import annotations

import sys
import time


class Progress:
    """A one-line bar: percentage, count, rate and ETA; silent unless ``enabled`` and a TTY."""

    def __init__(self, total: int, enabled: bool, stream=None, label: str = "crop", unit: str = "img"):
        self.stream = stream or sys.stderr
        self.label, self.unit = label, unit
        self.total, self.done, self.start, self.last = total, 0, time.monotonic(), 0.0
        self.enabled = bool(enabled) and total > 0 and getattr(self.stream, "isatty", lambda: False)()

    def step(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self.enabled and (now - self.last >= 0.1 or self.done >= self.total):
            self.last = now
            frac = min(1.0, self.done / self.total)
            rate = self.done / max(now - self.start, 1e-6)
            eta = max(0.0, (self.total - self.done) / rate) if rate > 0 else 0.0
            bar = "#" * int(frac * 30)
            self.stream.write(
                f"\r{self.label} [{bar:<30}] {frac:4.0%} {self.done}/{self.total} {rate:.1f} {self.unit}/s"
                f" ETA {int(eta) // 60}:{int(eta) % 60:02d}"
            )
            self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.done:
            self.stream.write("\n")
            self.stream.flush()
