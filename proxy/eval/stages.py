"""The stages the eval harness adds around the proxy's own: the arm a call asks for, and the
collection of each finished exchange.

The eval client names the arm, the call and the repeat in request headers that it also lists in
`Connection`, so the forward stage drops them as hop-by-hop (RFC 9110 §7.6.1): the provider
never sees them.
"""

from __future__ import annotations

from proxy.cohorts.compiled import CompiledRollout
from proxy.exchange import Exchange
from rollout.errors import InternalProxyError

ARM_HEADER = "x-llm-rollout-eval-arm"
CALL_HEADER = "x-llm-rollout-eval-call"
REPEAT_HEADER = "x-llm-rollout-eval-repeat"  # the k-th ask of a case: its own cache entry
ARMS = ("baseline", "candidate")


class EvalArm:
    """Puts the exchange under the rollout, on the arm the call asks for (no cohorts: every
    case is answered by both arms)."""

    name = "eval_arm"

    def __init__(self, rollout: CompiledRollout) -> None:
        self.rollout = rollout

    async def __call__(self, ex: Exchange) -> None:
        arm = ex.request.headers.get(ARM_HEADER)
        if arm not in ARMS:
            raise InternalProxyError(f"{ARM_HEADER} must be baseline or candidate (got {arm!r})")
        ex.governing, ex.rollout = self.rollout, self.rollout.name
        ex.arm, ex.assigned_by, ex.role = arm, "eval", "eval"


class Collect:
    """Keeps each finished exchange under its call id until the client takes it."""

    name = "collect"

    def __init__(self) -> None:
        self.done: dict[str, Exchange] = {}

    async def __call__(self, ex: Exchange) -> None:
        call = ex.request.headers.get(CALL_HEADER)
        if call is not None:
            self.done[call] = ex

    def take(self, call: str) -> Exchange | None:
        return self.done.pop(call, None)
