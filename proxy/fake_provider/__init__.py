"""A fake LLM provider speaking the real OpenAI and Anthropic wire formats, for tests, benchmarks
and the demo. Deterministic, fast, and with knobs for every failure the proxy must survive.

Endpoints
---------
OpenAI:    POST /v1/chat/completions, POST /v1/completions, POST /v1/responses,
           POST /v1/embeddings, GET /v1/models, GET /v1/models/{id}
Anthropic: POST /v1/messages, GET /v1/models (with an `anthropic-version` header)
Control:   GET|DELETE /_fake/requests, GET|DELETE /_fake/stats, GET|PUT /_fake/settings

Behaviour
---------
`FakeSettings.default` (a `ModelBehaviour`) applies to every model, `FakeSettings.models[name]`
overrides the fields it sets for that exact model name. Output is one word (or JSON fragment)
per token, `output_tokens` of them, one stream chunk each; the words depend only on the request
body and the seed. `tools` (tool_choice not none) give a tool call with arguments filled from the
tool's schema; `response_format` json_object/json_schema (Responses: `text.format`, Anthropic:
`output_config.format`) gives a JSON document; max_tokens below the planned output truncates it
(finish_reason length / stop_reason max_tokens / status incomplete).

Echo (`echo: true`): a text answer is the last user message's text, exactly, so an eval
dataset's expectations about the question's words can pass; `degrade_share` answers a share of
questions, chosen by a hash of that text alone (echo.py), with filler words instead — a candidate
made measurably and reproducibly worse on the same cases every run.

Streams: the response headers and the first events are sent after `ttft`, then one content
chunk every `inter_chunk` seconds. Sleeps are skipped entirely when a knob is 0.

Per-request header knobs (override the settings for one request; no config needed)
-------------------------------------------------------------------------------
x-fake-latency: SECONDS            delay before a non-streaming response
x-fake-ttft: SECONDS               delay before a stream's headers and first chunk
x-fake-inter-chunk: SECONDS        delay between a stream's content chunks
x-fake-output-tokens: N            number of output tokens / content chunks (>= 1)
x-fake-error-status: STATUS        always fail with this status (400..599), provider error shape
x-fake-refuse: 1                   refuse ("I'm sorry, but I can't help with that.")
x-fake-invalid-json: 1             JSON mode / tool arguments are truncated, invalid JSON
x-fake-hang: 1                     accept the request and never answer
x-fake-reset-after-chunks: N       abort the TCP connection (RST) after N SSE events
x-fake-stall-after-chunks: N       go silent (connection open) after N SSE events
A flag header counts as true unless it is 0/false/no/off. A malformed value gives a 400.

Observing
---------
`app[RECEIVED]`: deque of `ReceivedRequest` (method, path, query, headers with lower-cased
names, body bytes, parsed json) — the last `record_limit` requests. `app[STATS]`: `FakeStats`
counters started / completed / cancelled / errors / resets / hung (a stream whose client went
away counts as cancelled). `require_api_key` makes requests without `Authorization: Bearer
<key>` (OpenAI) or `x-api-key: <key>` (Anthropic) fail with 401.
"""

from proxy.fake_provider.app import build_app, run
from proxy.fake_provider.settings import FakeSettings, ModelBehaviour, load_settings
from proxy.fake_provider.state import RECEIVED, STATS, FakeStats, ReceivedRequest

__all__ = [
    "RECEIVED",
    "STATS",
    "FakeSettings",
    "FakeStats",
    "ModelBehaviour",
    "ReceivedRequest",
    "build_app",
    "load_settings",
    "run",
]
