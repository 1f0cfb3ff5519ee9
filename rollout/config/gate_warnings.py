"""Gates that cannot get data in their configuration, where the config alone can tell: a cost
gate on a rollout whose model has no price. A warning, not a refusal: a price may come from an
`observe.prices` override later, and the gate then has data. Other such gates (a JSON gate on
traffic without JSON mode, a TTFT gate without streams) depend on what clients send: the
controller flags them at run time (rollout/control/hold_needs.py, `unobservable`).
"""

from __future__ import annotations

from rollout.config.model import Config
from rollout.config.prices import price_table
from rollout.config.rollouts import Rollout

_GLOB = set("*?[")


def gate_warnings(config: Config) -> list[str]:
    """One sentence per gate that will wait forever as configured."""
    prices = price_table(config)
    found = []
    for index, rollout in enumerate(config.rollouts):
        for gate in rollout.plan.gates:
            if gate.metric != "cost_per_1k":
                continue
            relative = gate.bound_for(rollout.plan.tier).kind.endswith("_to_baseline")
            for arm, model in _models(rollout, relative):
                if prices.price_for(model) is None:
                    found.append(
                        f"rollouts[{index}] ({rollout.name}): gate {gate.key!r} can never"
                        f" decide: the {arm}'s model {model!r} has no price (add it under"
                        " observe.prices)"
                    )
    return found


def _models(rollout: Rollout, relative: bool) -> list[tuple[str, str]]:
    """The arms' models the config names: the candidate's; the baseline's when the bound is
    relative to it (its own model, or the one model the rollout governs). Unknown ones (the
    request's) are left out: the config cannot tell."""
    arms = [("candidate", rollout.candidate.model)]
    if relative:
        governed = rollout.models or []
        only = governed[0] if len(governed) == 1 and not _GLOB & set(governed[0]) else None
        arms.append(("baseline", rollout.baseline.model or only))
    return [(arm, model) for arm, model in arms if model]
