"""Count the finished exchange in Prometheus."""

from __future__ import annotations

from proxy import metrics
from proxy.exchange import Exchange


class Record:
    name = "record"

    async def __call__(self, ex: Exchange) -> None:
        provider = ex.upstream.name if ex.upstream else "none"
        api = ex.api or "passthrough"
        outcome = ex.error.kind if ex.error else "ok"
        metrics.REQUESTS.labels(provider, api, outcome).inc()
        if ex.duration is not None:
            metrics.DURATION.labels(provider, api).observe(ex.duration)
