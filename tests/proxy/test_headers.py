from __future__ import annotations

from multidict import CIMultiDict, CIMultiDictProxy

from proxy.headers import request_headers, response_headers


def _h(*pairs: tuple[str, str]) -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(CIMultiDict(pairs))


def test_hop_by_hop_and_connection_listed_headers_are_dropped() -> None:
    incoming = _h(
        ("Host", "evil.example"),
        ("Connection", "keep-alive, X-Secret-Hop"),
        ("X-Secret-Hop", "1"),
        ("Transfer-Encoding", "chunked"),
        ("Content-Length", "12"),
        ("TE", "trailers"),
        ("Content-Type", "application/json"),
        ("OpenAI-Beta", "assistants=v2"),
        ("X-Custom", "a"),
        ("X-Custom", "b"),
    )
    out = request_headers(incoming, None, keep_content_length=False)
    assert list(out.items()) == [
        ("Content-Type", "application/json"),
        ("OpenAI-Beta", "assistants=v2"),
        ("X-Custom", "a"),
        ("X-Custom", "b"),
    ]


def test_configured_credential_replaces_every_client_credential() -> None:
    incoming = _h(("Authorization", "Bearer client"), ("x-api-key", "client"), ("Accept", "*/*"))
    out = request_headers(incoming, ("x-api-key", "server"), keep_content_length=False)
    assert list(out.items()) == [("Accept", "*/*"), ("x-api-key", "server")]


def test_client_credential_passes_through_without_a_configured_one() -> None:
    incoming = _h(("Authorization", "Bearer client"))
    assert request_headers(incoming, None, False)["Authorization"] == "Bearer client"


def test_content_length_kept_only_for_streamed_bodies() -> None:
    incoming = _h(("Content-Length", "5"))
    assert "Content-Length" in request_headers(incoming, None, keep_content_length=True)
    assert "Content-Length" not in request_headers(incoming, None, keep_content_length=False)


def test_response_headers_pass_end_to_end_ones_untouched() -> None:
    incoming = _h(
        ("Content-Type", "text/event-stream"),
        ("Content-Encoding", "gzip"),
        ("Transfer-Encoding", "chunked"),
        ("x-request-id", "req_1"),
        ("Keep-Alive", "timeout=5"),
    )
    assert list(response_headers(incoming).items()) == [
        ("Content-Type", "text/event-stream"),
        ("Content-Encoding", "gzip"),
        ("x-request-id", "req_1"),
    ]
