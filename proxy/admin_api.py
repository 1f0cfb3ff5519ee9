"""Runtime changes over HTTP on the admin port: rollout weight, kill switch, rollback, flag
overrides, and the audit log. Reads are open (the admin port is loopback by default); changes
need `Authorization: Bearer <token>` with the token from the variable named by `admin.token_env`
(unset: changes are refused). Every change is audited and reaches every replica within a second.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Awaitable, Callable, Mapping
from functools import partial

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from proxy.cohorts.compiled import CompiledRollout
from proxy.cohorts.runtime import Runtime
from rollout.errors import StoreError
from rollout.operations import ChangeConflict, roll_back, set_flag, set_rollout

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _Change(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1)
    actor: str = Field(default="admin-api", min_length=1)


class RolloutChange(_Change):
    weight: float | None = Field(default=None, ge=0, le=1)
    killed: bool | None = None


class FlagChange(_Change):
    enabled: bool | None = None
    percent: float | None = Field(default=None, ge=0, le=100)


def add_admin_api(
    app: web.Application, runtime: Runtime, token_env: str, environ: Mapping[str, str] = os.environ
) -> None:
    token = environ.get(token_env, "")
    guard = _authorised(token, token_env)
    app.router.add_get("/v1/rollouts", partial(_rollouts, runtime=runtime))
    app.router.add_post("/v1/rollouts/{name}", guard(partial(_change_rollout, runtime=runtime)))
    app.router.add_post("/v1/rollouts/{name}/rollback", guard(partial(_rollback, runtime=runtime)))
    app.router.add_post("/v1/flags/{name}", guard(partial(_change_flag, runtime=runtime)))
    app.router.add_get("/v1/audit", partial(_audit, runtime=runtime))


def _authorised(token: str, token_env: str) -> Callable[[Handler], Handler]:
    def wrap(handler: Handler) -> Handler:
        async def checked(request: web.Request) -> web.StreamResponse:
            if not token:
                return _error(403, f"changes are disabled: set {token_env} to enable them")
            given = request.headers.get("Authorization", "").removeprefix("Bearer ")
            if not hmac.compare_digest(given.encode(), token.encode()):
                return _error(401, "missing or wrong bearer token")
            try:
                return await handler(request)
            except ValidationError as exc:
                return _error(400, _first_problem(exc))
            except ValueError as exc:  # body is not JSON
                return _error(400, f"body must be a JSON object: {exc}")
            except web.HTTPNotFound as exc:
                return _error(404, exc.text or "not found")
            except ChangeConflict as exc:
                return _error(409, str(exc))
            except StoreError as exc:
                return _error(503, f"store unavailable, nothing changed: {exc}")

        return checked

    return wrap


async def _rollouts(_: web.Request, runtime: Runtime) -> web.Response:
    out = []
    for name, rollout in runtime.rollouts.items():
        state = runtime.state(name)
        out.append(
            {
                "name": name,
                "version": rollout.version,
                "weight": state.weight,
                "max_weight": state.max_weight,
                "killed": state.killed,
                "epoch": state.epoch,
                "source": "store" if state.from_store else "config",
            }
        )
    return web.json_response({"rollouts": out, "store_up": runtime.guard.up})


async def _change_rollout(request: web.Request, runtime: Runtime) -> web.Response:
    rollout = _rollout_or_404(request, runtime)
    change = RolloutChange.model_validate(await request.json())
    if change.weight is None and change.killed is None:
        return _error(400, "nothing to change: give weight and/or killed")
    state = await set_rollout(
        runtime.store,
        rollout.name,
        rollout.version,
        rollout.config.config_state,
        actor=change.actor,
        reason=change.reason,
        weight=change.weight,
        killed=change.killed,
    )
    await runtime.refresh("admin")
    return web.json_response({"name": rollout.name, **state.fields()})


async def _rollback(request: web.Request, runtime: Runtime) -> web.Response:
    rollout = _rollout_or_404(request, runtime)
    change = _Change.model_validate(await request.json())
    state = await roll_back(
        runtime.store,
        rollout.name,
        rollout.version,
        rollout.config.config_state,
        actor=change.actor,
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
        return _error(400, "nothing to change: give enabled and/or percent")
    override = await set_flag(
        runtime.store,
        name,
        actor=change.actor,
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
        return _error(400, "limit must be a whole number")
    try:
        entries = await runtime.store.audit.read(request.query.get("rollout"), limit)
    except StoreError as exc:
        return _error(503, f"store unavailable: {exc}")
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


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": {"status": status, "message": message}}, status=status)


def change_guard(
    token_env: str, environ: Mapping[str, str] = os.environ
) -> Callable[[Handler], Handler]:
    """The bearer-token check of every change, for admin routes defined in other modules."""
    return _authorised(environ.get(token_env, ""), token_env)
