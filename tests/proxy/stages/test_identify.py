from __future__ import annotations

from types import SimpleNamespace

import pytest
from multidict import CIMultiDict

from proxy.stages.identify import key_fingerprint, subject_of


def test_key_fingerprint_is_fixed_and_one_way() -> None:
    # Fixed values: changing the hash would reshuffle every sticky cohort.
    assert key_fingerprint("sk-test-123") == "5c7ffe7564792727"
    assert key_fingerprint("Bearer sk-abc") == "3ef272590280f825"


@pytest.mark.parametrize(
    ("payload", "headers", "subject"),
    [
        ({"user": "u1"}, {}, "user:u1"),
        ({"metadata": {"user_id": "u2"}}, {}, "user:u2"),
        ({"user": ""}, {"authorization": "Bearer sk-abc"}, "key:3ef272590280f825"),
        ({"metadata": "x"}, {"x-api-key": "sk-test-123"}, "key:5c7ffe7564792727"),
        (None, {}, None),
    ],
)
def test_subject_order(payload: dict | None, headers: dict, subject: str | None) -> None:
    ex = SimpleNamespace(payload=payload, request=SimpleNamespace(headers=CIMultiDict(headers)))
    assert subject_of(ex) == subject  # type: ignore[arg-type]
