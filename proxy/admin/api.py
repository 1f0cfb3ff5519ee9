"""Runtime changes over HTTP on the admin port: rollout weight, kill switch, rollback, flag
overrides; on automatic rollouts also pause, resume, promote and approve; and the audit log.
Who may do what is proxy/admin/auth.py (bearer tokens with roles). Every change is audited with
the token's name (and the person the client names) and reaches every replica within a second.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any

from aiohttp import web
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    model_validator,
)

from proxy.admin.auth import TOKEN_KEY, Access, Role, error
from proxy.cohorts.compiled import CompiledRollout
from proxy.cohorts.runtime import Runtime
from proxy.scoring.rollout_scoring import RolloutScoring
from proxy.shadow.mirror import RolloutMirror
from rollout.control.approvals import EVAL_APPROVAL, gate_approval, stage_approval
from rollout.control.eval_evidence import eval_key, eval_of
from rollout.control.eval_requirement import evidence_view
from rollout.control.human_actions import (
    Transition,
    act,
    approval,
    controller_view,
    transition,
)
from rollout.control.live_state import config_state, state_key
from rollout.control.look import look_key
from rollout.control.operations import ChangeConflict, roll_back, set_flag, set_rollout
from rollout.errors import ActionRefused, StoreError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _Change(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1)
    actor: str | None = Field(default=None, min_length=1)  # the person, if the client knows


class RolloutChange(_Change):
    weight: float | None = Field(default=None, ge=0, le=1)
    killed: bool | None = None


class Promotion(_Change):
    full: StrictBool = False  # straight to 100% (baking)


class Approval(_Change):
    gate: str | None = Field(default=None, min_length=1)  # a failed secondary gate
    stage: float | None = Field(default=None, gt=0, le=100)  # a stage's percent
    # The version's eval (plan.require_eval): accept a conditional pass, or override a missing
    # or failed one (audited with the reason, marked for extra monitoring).
    eval: StrictBool = False
    # None of them: whatever the rollout waits for.

    @model_validator(mode="after")
    def _one(self) -> Approval:
        if sum((self.gate is not None, self.stage is not None, self.eval)) > 1:
            raise ValueError("give one of gate, stage or eval")
        return self

    @property
    def key(self) -> str | None:
        if self.eval:
            return EVAL_APPROVAL
        if self.gate is not None:
            return gate_approval(self.gate)
        return stage_approval(self.stage) if self.stage is not None else None


class FlagChange(_Change):
    enabled: bool | None = None
    percent: float | None = Field(default=None, ge=0, le=100)


def add_admin_api(
    app: web.Application,
    runtime: Runtime,
    access: Access,
    mirrors: Callable[[], Mapping[str, RolloutMirror]] = dict,
    scorings: Callable[[], Mapping[str, RolloutScoring]] = dict,
) -> None:
    """`mirrors`, `scorings`: the running generation's shadow mirrors and online scoring, shown
    in the rollouts' status."""

    def route(handler: Callable[..., Awaitable[web.Response]], role: Role) -> Handler:
        return access.needs(role)(_mapped(partial(handler, runtime=runtime)))

    rollouts = partial(_rollouts, runtime=runtime, mirrors=mirrors, scorings=scorings)
    app.router.add_get("/v1/rollouts", access.reads(rollouts))
    app.router.add_post("/v1/rollouts/{name}", route(_change_rollout, Role.operator))
    app.router.add_post("/v1/rollouts/{name}/rollback", route(_rollback, Role.operator))
    for action in ("pause", "resume", "promote"):
        path = f"/v1/rollouts/{{name}}/{action}"
        app.router.add_post(path, route(partial(_human, action=action), Role.operator))
    app.router.add_post("/v1/rollouts/{name}/approve", route(_approve, Role.approver))
    app.router.add_post("/v1/flags/{name}", route(_change_flag, Role.operator))
    app.router.add_get("/v1/audit", access.reads(partial(_audit, runtime=runtime)))


def _mapped(handler: Handler) -> Handler:
    """The project's errors as HTTP answers, each with a message saying what is wrong."""

    async def mapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ValidationError as exc:
            return error(400, _first_problem(exc))
        except ValueError as exc:  # body is not JSON
            return error(400, f"body must be a JSON object: {exc}")
        except web.HTTPNotFound as exc:
            return error(404, exc.text or "not found")
        except (ChangeConflict, ActionRefused) as exc:
            return error(409, str(exc))
        except StoreError as exc:
            return error(503, f"store unavailable, nothing changed: {exc}")

    return mapped


def _actor(request: web.Request, change: _Change) -> str:
    """The token's name, and the person the client named: `ops-token (alice)`."""
    name = request[TOKEN_KEY].name
    return f"{name} ({change.actor})" if change.actor else name


async def _rollouts(
    _: web.Request,
    runtime: Runtime,
    mirrors: Callable[[], Mapping[str, RolloutMirror]],
    scorings: Callable[[], Mapping[str, RolloutScoring]] = dict,
) -> web.Response:
    out = []
    shadows, scored = mirrors(), scorings()
    for rollout in runtime.rollouts.values():
        entry = await _entry(runtime, rollout)
        mirror = shadows.get(rollout.name)
        if mirror is not None:
            active = mirror.active(runtime.state(rollout.name))
            entry["shadow"] = {"active": active, **mirror.status()}
        scoring = scored.get(rollout.name)
        if scoring is not None:
            active = scoring.active(runtime.state(rollout.name))
            entry["scoring"] = {"active": active, **scoring.status()}
        out.append(entry)
    return web.json_response({"rollouts": out, "store_up": runtime.guard.up})


async def _entry(runtime: Runtime, rollout: CompiledRollout) -> dict[str, Any]:
    """What this replica serves, and the controller's view from the store (phase, stage...), with
    the recorded eval of the version (`eval`: rollout/control/eval_requirement.py)."""
    state = runtime.state(rollout.name)
    entry = {
        "name": rollout.name,
        "version": rollout.version,
        **state.fields(),
        "source": "store" if state.from_store else "config",
    }
    docs = runtime.store.documents
    evidence = await runtime.guard.call("documents.read", lambda: docs.read(eval_key(rollout.name)))
    if evidence is not None:  # None: the store is down (the status says so)
        view = evidence_view(rollout.config.plan, eval_of(evidence[0], rollout.version))
        if view is not None:  # left out when none is required nor recorded
            entry["eval"] = view
    found = await runtime.guard.call("documents.read", lambda: docs.read(state_key(rollout.name)))
    if found is None:
        return entry | {"automatic": rollout.config.plan.automatic, "phase": None}
    return entry | controller_view(found[0], rollout.config) | await _look(runtime, rollout)


async def _look(runtime: Runtime, rollout: CompiledRollout) -> dict[str, Any]:
    """The controller's last look at the running version (why it waits: rollout/control/look.py),
    written by whichever process runs the controller; left out before the first one."""
    if not rollout.config.plan.automatic:
        return {}
    docs = runtime.store.documents
    found = await runtime.guard.call("documents.read", lambda: docs.read(look_key(rollout.name)))
    look = found[0] if found is not None else None
    if look is None or look.get("version") != rollout.version:
        return {}
    return {"look": {k: v for k, v in look.items() if k not in ("digest", "version")}}


async def _human(request: web.Request, runtime: Runtime, action: str) -> web.Response:
    rollout = _rollout_or_404(request, runtime)
    model = Promotion if action == "promote" else _Change
    change = model.model_validate(await request.json())
    full = isinstance(change, Promotion) and change.full
    return await _act(request, runtime, rollout, change, transition(action, full=full))


async def _approve(request: web.Request, runtime: Runtime) -> web.Response:
    rollout = _rollout_or_404(request, runtime)
    change = Approval.model_validate(await request.json())
    how = await approval(runtime.store, rollout.config, change.key)
    return await _act(request, runtime, rollout, change, how)


async def _act(
    request: web.Request,
    runtime: Runtime,
    rollout: CompiledRollout,
    change: _Change,
    how: Transition,
) -> web.Response:
    actor, reason = _actor(request, change), change.reason
    await act(runtime.store, rollout.config, how, actor=actor, reason=reason)
    await runtime.refresh("admin")
    return web.json_response(await _entry(runtime, rollout))


async def _change_rollout(request: web.Request, runtime: Runtime) -> web.Response:
    rollout = _rollout_or_404(request, runtime)
    change = RolloutChange.model_validate(await request.json())
    if change.weight is None and change.killed is None:
        return error(400, "nothing to change: give weight and/or killed")
    state = await set_rollout(
        runtime.store,
        rollout.name,
        rollout.version,
        config_state(rollout.config),
        actor=_actor(request, change),
        reason=change.reason,
        weight=change.weight,
        killed=change.killed,
    )
    await runtime.refresh("admin")
    return web.json_response({"name": rollout.name, **state.fields()})


async def _rollback(request: web.Request, runtime: Runtime) -> web.Response:
    rollout = _rollout_or_404(request, runtime)
    change = _Change.model_validate(await request.json())
    if rollout.config.plan.automatic:  # the controller must see it as final, not ramp on
        return await _act(request, runtime, rollout, change, transition("rollback"))
    state = await roll_back(
        runtime.store,
        rollout.name,
        rollout.version,
        config_state(rollout.config),
        actor=_actor(request, change),
        reason=change.reason,
    )
    await runtime.refresh("admin")
    return web.json_response({"name": rollout.name, **state.fields()})


async def _change_flag(request: web.Request, runtime: Runtime) -> web.Response:
    name = request.match_info["name"]
    if name not in runtime.flags.names:
        raise web.HTTPNotFound(text=f"no flag named {name!r}")
    change = FlagChange.model_validate(await request.json())
    if change.enabled is None and change.percent is None:
        return error(400, "nothing to change: give enabled and/or percent")
    override = await set_flag(
        runtime.store,
        name,
        actor=_actor(request, change),
        reason=change.reason,
        enabled=change.enabled,
        percent=change.percent,
    )
    await runtime.refresh("admin")
    return web.json_response({"name": name, "override": override})


async def _audit(request: web.Request, runtime: Runtime) -> web.Response:
    try:
        limit = min(1000, max(1, int(request.query.get("limit", "100"))))
    except ValueError:
        return error(400, "limit must be a whole number")
    try:
        entries = await runtime.store.audit.read(request.query.get("rollout"), limit)
    except StoreError as exc:
        return error(503, f"store unavailable: {exc}")
    return web.json_response({"entries": entries})


def _rollout_or_404(request: web.Request, runtime: Runtime) -> CompiledRollout:
    rollout = runtime.rollouts.get(request.match_info["name"])
    if rollout is None:
        raise web.HTTPNotFound(text=f"no rollout named {request.match_info['name']!r}")
    return rollout


def _first_problem(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "body"
    return f"{where}: {err['msg']}"
