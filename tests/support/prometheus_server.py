"""A real, throwaway Prometheus on a free loopback port, scraping given targets every second.

    with PrometheusServer(["127.0.0.1:9090"]) as prom:
        prom.query('sum(llm_rollout_requests_total)')     # the result list of /api/v1/query
        prom.label_values("rollout", "llm_rollout_weight")

A missing prometheus binary is an error, never a reason to skip (Debian's package `prometheus`,
which `bash .ci/test` installs, ships it next to promtool).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.support.servers import free_port

START_SECONDS = 15.0


class PrometheusError(RuntimeError):
    pass


def find_prometheus() -> str:
    found = shutil.which("prometheus")
    if not found:
        raise PrometheusError(
            "prometheus is not installed; the dashboard tests need it: apt-get install prometheus"
        )
    return found


class PrometheusServer:
    """`jobs`: scrape job name -> the bearer token it sends (None: no Authorization header);
    each job scrapes every target."""

    def __init__(
        self,
        targets: list[str],
        scrape_interval: str = "1s",
        jobs: Mapping[str, str | None] | None = None,
    ) -> None:
        self.binary = find_prometheus()
        self.port = free_port()
        self.targets = targets
        self.jobs = dict(jobs or {"llm-rollout": None})
        self.scrape_interval = scrape_interval
        self._dir = Path(tempfile.mkdtemp(prefix="prometheus-test-"))
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> PrometheusServer:
        config = self._dir / "prometheus.yml"
        config.write_text(
            json.dumps(  # JSON is YAML
                {
                    "global": {
                        "scrape_interval": self.scrape_interval,
                        "scrape_timeout": self.scrape_interval,
                    },
                    "scrape_configs": [self._job(name, token) for name, token in self.jobs.items()],
                }
            )
        )
        args = [
            self.binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={self._dir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--log.level=warn",
        ]
        log = self._dir / "prometheus.log"
        with open(log, "wb") as out:
            self._proc = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + START_SECONDS
        while not self._ready():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise PrometheusError(
                    "prometheus did not become ready:\n" + log.read_text(errors="replace")[-2000:]
                )
            time.sleep(0.1)
        return self

    def _job(self, name: str, token: str | None) -> dict[str, Any]:
        job: dict[str, Any] = {"job_name": name, "static_configs": [{"targets": self.targets}]}
        if token is not None:
            job["authorization"] = {"type": "Bearer", "credentials": token}
        return job

    def api(self, path: str, **params: str) -> Any:
        """GET /api/v1/<path>; the `data` of a success, else PrometheusError with its message."""
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                answer = json.load(response)
        except urllib.error.HTTPError as exc:
            answer = json.load(exc)
        if answer.get("status") != "success":
            raise PrometheusError(f"{answer.get('errorType')}: {answer.get('error')}")
        return answer["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.api("query", query=expr)
        return data["result"] if data["resultType"] == "vector" else [data["result"]]

    def label_values(self, label: str, match: str) -> list[str]:
        return self.api(f"label/{label}/values", **{"match[]": match})

    def metric_names(self) -> set[str]:
        return set(self.api("label/__name__/values"))

    def close(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
        self._proc = None
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/-/ready", timeout=1) as response:
                return response.status == 200
        except OSError:
            return False
