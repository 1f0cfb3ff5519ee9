"""The environment a rendered container gets, resolved as the kubelet resolves it.

Each `env` entry in order: `value`, or `valueFrom.secretKeyRef` read from the given Secrets'
data; in a `value`, `$(NAME)` becomes the value of NAME if an entry *before* it defined NAME
(else it stays as written), and `$$` is a literal `$` — Kubernetes' dependent environment
variables. A missing Secret or key is a KeyError: the kubelet would not start the container.

    container_environ(container, {"admin-token": {"token": "s3cret"}})
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Secrets = Mapping[str, Mapping[str, str]]  # Secret name -> key -> (decoded) value


def container_environ(container: Mapping[str, Any], secrets: Secrets) -> dict[str, str]:
    environ: dict[str, str] = {}
    for entry in container.get("env", []):
        if "valueFrom" in entry:
            ref = entry["valueFrom"]["secretKeyRef"]  # the only source the chart uses
            environ[entry["name"]] = secrets[ref["name"]][ref["key"]]
        else:
            environ[entry["name"]] = expand(entry.get("value", ""), environ)
    return environ


def expand(value: str, defined: Mapping[str, str]) -> str:
    out, i = [], 0
    while i < len(value):
        end = value.find(")", i)
        if value.startswith("$$", i):
            out.append("$")
            i += 2
        elif value.startswith("$(", i) and end != -1:
            reference = value[i : end + 1]
            out.append(defined.get(reference[2:-1], reference))
            i = end + 1
        else:
            out.append(value[i])
            i += 1
    return "".join(out)
