"""GET /v1/openapi.json describes exactly the routes the admin port registers, with the bodies'
schemas taken from the models the handlers validate with."""

from __future__ import annotations

from pathlib import Path

from proxy.admin.api import RolloutChange
from proxy.admin.openapi import document
from proxy.admin.server import build_admin_app
from proxy.app import Proxy
from proxy.reload import LiveConfig
from rollout.config import load_config

CONFIG = """
providers: {p: {base_url: "http://127.0.0.1:9/v1"}}
routes: [{prefix: /v1, provider: p}]
store: {data_dir: "%s"}
rollouts: [{name: r, candidate: {model: m}}]
"""


async def test_the_document_and_the_routes_agree(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(CONFIG % (tmp_path / "data"))
    proxy = Proxy(load_config(str(path)), {})
    app = build_admin_app(proxy, {}, live=LiveConfig(proxy, str(path)))
    registered = {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.method != "HEAD"  # aiohttp answers HEAD for every GET by itself
    }
    described = {(m, p) for p, methods in document()["paths"].items() for m in methods}
    await proxy.close()
    assert registered == described


def test_bodies_carry_the_handlers_schemas() -> None:
    op = document()["paths"]["/v1/rollouts/{name}"]["post"]
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    assert schema == RolloutChange.model_json_schema()
    assert schema["required"] == ["reason"] and op["x-llm-rollout-role"] == "operator"
    assert document()["paths"]["/healthz"]["get"].get("security") is None
