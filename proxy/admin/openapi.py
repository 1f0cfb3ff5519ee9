"""The admin API described as OpenAPI 3.1, served at GET /v1/openapi.json.

One table of the routes (method, path, who may call it, what it does, its body's model); the
bodies' schemas come from the pydantic models the handlers validate with, so they cannot drift.
tests/proxy/admin/test_openapi.py holds the table against the routes the admin app registers.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from aiohttp import web
from pydantic import BaseModel

from proxy.admin.api import Approval, FlagChange, Promotion, RolloutChange, _Change


class Operation(NamedTuple):
    method: str
    path: str
    role: str  # "open", "viewer" (reads: open on loopback), "operator", "approver"
    summary: str
    body: type[BaseModel] | None = None


OPERATIONS = (
    Operation("get", "/healthz", "open", "the process answers"),
    Operation("get", "/readyz", "open", "serving (and, with store.require, the store answers)"),
    Operation("get", "/metrics", "viewer", "Prometheus metrics (docs/metrics.md)"),
    Operation("get", "/v1/openapi.json", "open", "this document"),
    Operation("get", "/v1/rollouts", "viewer", "every rollout's state, gates and evidence"),
    Operation(
        "post",
        "/v1/rollouts/{name}",
        "operator",
        "set the weight or the kill switch",
        RolloutChange,
    ),
    Operation(
        "post",
        "/v1/rollouts/{name}/rollback",
        "operator",
        "everyone back on the baseline, stickiness afresh",
        _Change,
    ),
    Operation("post", "/v1/rollouts/{name}/pause", "operator", "hold an automatic ramp", _Change),
    Operation("post", "/v1/rollouts/{name}/resume", "operator", "resume a paused ramp", _Change),
    Operation(
        "post",
        "/v1/rollouts/{name}/promote",
        "operator",
        "the next stage now (full: straight to 100%)",
        Promotion,
    ),
    Operation(
        "post",
        "/v1/rollouts/{name}/approve",
        "approver",
        "a stage, a failed secondary gate or the version's eval",
        Approval,
    ),
    Operation(
        "get",
        "/v1/rollouts/{name}/shadow",
        "viewer",
        "shadow comparisons above noise and kept pairs",
    ),
    Operation(
        "post", "/v1/flags/{name}", "operator", "switch a flag or set its percentage", FlagChange
    ),
    Operation("get", "/v1/audit", "viewer", "the audit log (?rollout=, ?limit=)"),
    Operation("get", "/v1/config", "viewer", "the running config's hash and its last reload"),
    Operation("post", "/v1/config/reload", "operator", "reload the config file now"),
)


def document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        entry: dict[str, Any] = {
            "summary": op.summary,
            "x-llm-rollout-role": op.role,
            "responses": {"200": {"description": "JSON"}},
        }
        if op.role != "open":
            entry["security"] = [{"bearer": []}]
        if "{name}" in op.path:
            entry["parameters"] = [
                {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
            ]
        if op.body is not None:
            schema = op.body.model_json_schema()
            entry["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": schema}},
            }
        paths.setdefault(op.path, {})[op.method] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": "llm-rollout admin API", "version": "1"},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "paths": paths,
    }


def add_openapi(app: web.Application) -> None:
    body = document()

    async def openapi(_: web.Request) -> web.Response:
        return web.json_response(body)

    app.router.add_get("/v1/openapi.json", openapi)
