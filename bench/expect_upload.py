"""How long a large upload takes with `Expect: 100-continue`, direct and through the proxy: curl
sends that header for bodies over 1 MiB and waits for `100 Continue` (or 1 s) before the body.

    python bench/expect_upload.py                 # ~10 s; needs curl
    python bench/expect_upload.py --mb 8 --runs 9

The fake provider and the proxy run in this process (each on its own thread and event loop);
curl posts a chat request padded to `--mb` MB, `--runs` times per path, and the medians of its
`time_total` are printed. Never fails.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiohttp import web

from proxy.app import Proxy
from proxy.fake_provider import build_app
from rollout.config import parse_config


def serve(factory: Callable[[], object]) -> int:
    """Start what `factory` builds (inside a new thread's loop) on a free port; the port."""
    loop = asyncio.new_event_loop()
    ready: dict[str, int] = {}
    started = threading.Event()

    async def start() -> None:
        app = factory()
        if asyncio.iscoroutine(app):
            app = await app
        runner = web.ServerRunner(app) if isinstance(app, web.Server) else web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        ready["port"] = runner.addresses[0][1]
        started.set()

    threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()),
                     daemon=True).start()  # fmt: skip
    started.wait(15)
    return ready["port"]


async def proxy_server(upstream_port: int, data_dir: str) -> web.Server:
    config = parse_config(
        f"""
providers: {{up: {{base_url: "http://127.0.0.1:{upstream_port}/v1"}}}}
routes: [{{prefix: /v1, provider: up}}]
limits: {{max_body_bytes: 100000000}}
store: {{data_dir: "{data_dir}"}}
""",
        "bench.yaml",
    )
    proxy = Proxy(config, {})
    await proxy.start()
    return proxy.server()


def curl_seconds(port: int, body_file: str) -> float:
    out = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{time_total} %{http_code}",
         "-H", "Content-Type: application/json", "--data-binary", "@" + body_file,
         f"http://127.0.0.1:{port}/v1/chat/completions"],
        check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    assert out[1] == "200", out
    return float(out[0])


def main(args: argparse.Namespace) -> None:
    if shutil.which("curl") is None:
        raise SystemExit("needs curl")
    pad = "x" * (args.mb * 1_000_000)
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": pad}]}
    with tempfile.TemporaryDirectory() as tmp:
        body_file = str(Path(tmp) / "body.json")
        Path(body_file).write_bytes(orjson.dumps(body))
        fake = serve(build_app)
        proxied = serve(lambda: proxy_server(fake, tmp))
        times: dict[str, list[float]] = {"direct": [], "proxy": []}
        for _ in range(args.runs):
            times["direct"].append(curl_seconds(fake, body_file))
            times["proxy"].append(curl_seconds(proxied, body_file))
    print(f"curl POST of {args.mb} MB (curl sends Expect: 100-continue), {args.runs} runs")
    for path, values in times.items():
        print(f"  {path:<7} median {statistics.median(values):.3f} s "
              f"(min {min(values):.3f}, max {max(values):.3f})")  # fmt: skip


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=2)
    parser.add_argument("--runs", type=int, default=7)
    return parser.parse_args(argv)


if __name__ == "__main__":
    main(parse_args(None))
