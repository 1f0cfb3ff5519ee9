"""A circuit breaker per provider: after `threshold` calls in a row failed in a way a fallback
could rescue, the provider is skipped for `cooldown` seconds (its fallbacks are tried at once
instead of each call waiting for its timeout); then one call probes it, and a success closes it.
"""

from __future__ import annotations

from time import monotonic


class Breaker:
    def __init__(self, threshold: int = 5, cooldown: float = 10.0) -> None:
        self.threshold, self.cooldown = threshold, cooldown
        self.failures = 0
        self.open_until = 0.0

    def allows(self) -> bool:
        """Closed, or open past its cooldown (then this call is the probe: the next ones wait
        for its outcome for another cooldown)."""
        if self.failures < self.threshold:
            return True
        now = monotonic()
        if now < self.open_until:
            return False
        self.open_until = now + self.cooldown  # one probe per cooldown
        return True

    def succeeded(self) -> None:
        self.failures = 0

    def failed(self) -> None:
        self.failures += 1
        if self.failures == self.threshold:
            self.open_until = monotonic() + self.cooldown
