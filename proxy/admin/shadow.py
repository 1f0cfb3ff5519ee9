"""Admin API for shadow traffic (read only): GET /v1/rollouts/{name}/shadow.

Answers the rollout's mirroring status (share, queue, budget), the comparison report over the
last `hours` (default 1) of metric windows — per comparator the candidate's disagreement with the
live answer, the baseline's disagreement with itself (noise) and the excess above noise, each
with a 95% interval — and the newest `pairs` kept pairs (default 20, at most 200).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict
from functools import partial
from typing import Any

import orjson
from aiohttp import web

from proxy.admin.auth import Access, error
from proxy.cohorts.runtime import Runtime
from proxy.shadow.mirror import WINDOW_PREFIX, RolloutMirror
from rollout.control.windows import merge_fields
from rollout.quality.noise import NoiseReport, Tally, report

MAX_PAIRS = 200


def add_shadow_api(
    app: web.Application,
    runtime: Runtime,
    mirrors: Callable[[], Mapping[str, RolloutMirror]],
    access: Access,
) -> None:
    """`mirrors`: those of the running config generation (a reload replaces them)."""
    handler = partial(_shadow, runtime=runtime, mirrors=mirrors)
    app.router.add_get("/v1/rollouts/{name}/shadow", access.reads(handler))


async def _shadow(
    request: web.Request, runtime: Runtime, mirrors: Callable[[], Mapping[str, RolloutMirror]]
) -> web.Response:
    name = request.match_info["name"]
    mirror = mirrors().get(name)
    if mirror is None:
        known = name in runtime.rollouts
        message = f"rollout {name!r} has no shadow section" if known else f"no rollout {name!r}"
        return error(404, message)
    try:
        limit = min(int(request.query.get("pairs", "20")), MAX_PAIRS)
        hours = float(request.query.get("hours", "1"))
        if limit < 0 or not 0 < hours <= 24 * 7:
            raise ValueError
    except ValueError:
        message = "pairs must be a whole number >= 0 and hours a number in (0, 168]"
        return error(400, message)
    store = runtime.store
    end = time.time()
    buckets = await runtime.guard.call(
        "metrics.read", lambda: store.metrics.read(name, int(end - hours * 3600), int(end) + 1)
    )
    pairs = await runtime.guard.call("pairs.read", lambda: store.pairs.read(name, limit))
    body: dict[str, Any] = {
        "rollout": name,
        "active": mirror.active(runtime.state(name)),
        "shadow": mirror.status(),
        "hours": hours,
        "report": None if buckets is None else comparison_report(list(buckets.values())),
        "pairs": pairs,
        "store_up": runtime.guard.up,
    }
    return web.json_response(body, dumps=_dumps)


def comparison_report(buckets: list[dict[str, float]]) -> dict[str, Any]:
    fields = merge_fields(buckets)
    tallies = {
        kind: Tally.from_fields(fields, f"{a}:{r}:") for kind, (a, r) in WINDOW_PREFIX.items()
    }
    found = report(tallies["noise"], tallies["candidate"])
    return {name: _report_doc(r) for name, r in found.items()}


def _report_doc(r: NoiseReport) -> dict[str, Any]:
    doc = asdict(r)
    for key in ("noise", "candidate", "excess"):
        if doc[key] is not None:
            doc[key] = {k: v if math.isfinite(v) else None for k, v in doc[key].items()}
    return doc


def _dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()  # pairs hold infinite length ratios: orjson writes null
