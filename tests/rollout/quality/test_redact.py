from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollout.quality.redact import DEFAULT, Redactor, luhn_ok

REDACTED = [
    # emails
    ("mail jane.doe+tag@example.co.uk now", "mail [EMAIL] now"),
    ("a@b.io", "[EMAIL]"),
    # phones
    ("call +1 415 555 2671.", "call [PHONE]."),
    ("call +14155552671", "call [PHONE]"),
    ("+44 20 7946 0958", "[PHONE]"),
    ("+49 (0)30 1234567", "[PHONE]"),
    ("(415) 555-2671", "[PHONE]"),
    ("415-555-2671", "[PHONE]"),
    ("415.555.2671", "[PHONE]"),
    ("tel 415 555 2671", "tel [PHONE]"),
    ("020 7946 0958", "[PHONE]"),
    ("06 12 34 56 78", "[PHONE]"),
    # cards (Luhn-valid test numbers)
    ("card 4111111111111111 ok", "card [CARD] ok"),
    ("4111 1111 1111 1111", "[CARD]"),
    ("5500-0000-0000-0004", "[CARD]"),
    ("amex 378282246310005", "amex [CARD]"),
    ("6011 0009 9013 9424 end", "[CARD] end"),
    # secrets
    ("key sk-proj-abcDEF1234567890xyzXYZ", "key [SECRET]"),
    ("sk-ant-api03-AbCdEfGhIjKlMnOpQrSt", "[SECRET]"),
    ("Authorization: Bearer eyJhbGciOi.eyJzdWIiOiIx.sig1234567", "Authorization: Bearer [SECRET]"),
    ("bearer abcdef0123456789abcd", "bearer [SECRET]"),
    ("AKIAIOSFODNN7EXAMPLE", "[SECRET]"),
    ("id ASIAY34FZKBOKMUTVV7A.", "id [SECRET]."),
    ("ghp_" + "a1B2" * 9, "[SECRET]"),
    ("xoxb-123456789012-abcdefABCDEF", "[SECRET]"),
    ("token=" + "deadbeef" * 5, "token=[SECRET]"),
    ("aws_secret=kR8vQ2/xZp7Lm+Tb4NcW9yHs3JfEa6UgD1oBiK5n", "aws_secret=[SECRET]"),
    ("urlsafe Xq3_bT9-Lk2mZ7vR4cN8pW1sY6hJ5gF0", "urlsafe [SECRET]"),
    ("s=Zm9vYmFyQmF6UXV4MTIzNDU2Nzg5MGFiY2RlZg==", "s=[SECRET]"),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
     "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "jwt [SECRET]"),
]  # fmt: skip

KEPT = [
    "order A-123456 shipped",
    "ORD-2024-000123",
    "on 2024-01-15 at 12:30:45",
    "15.01.2024 and 01/15/2024 and 01-15-2024",
    "total 1234567 units, 1,234,567.89 USD, 3.14159",
    "1234567890 is an id, not a phone",
    "1234 5678 9012 3456 fails Luhn",
    "ip 192.168.1.100 and version 1.2.3",
    "uuid 123e4567-e89b-12d3-a456-426614174000",
    "the bearer of bad news; bearer instruments",
    "task-force and risk-free",
    "SomeVeryLongCamelCaseIdentifierNameHere and getUserSettingsForOrganization2024",
    "HTTPServerErrorHandlerV2ForAPIGatewayRequests",
    "src/components/UserProfile/Avatar2x/index.tsx",
    "see https://example.com/api/v1/users/profile/settings/notifications",
    "call me at 555-2671",
    "an @mention and user@localhost",
]


@pytest.mark.parametrize(("text", "expected"), REDACTED)
def test_redacts(text: str, expected: str) -> None:
    assert DEFAULT.redact(text) == expected


@pytest.mark.parametrize("text", KEPT)
def test_keeps(text: str) -> None:
    assert DEFAULT.redact(text) == text


@pytest.mark.parametrize(
    ("digits", "ok"),
    [("4111111111111111", True), ("4111111111111112", False), ("79927398713", True), ("0", True)],
)
def test_luhn(digits: str, ok: bool) -> None:
    assert luhn_ok(digits) is ok


def test_nested_json_values() -> None:
    doc = {
        "model": "gpt-4o",
        "max_tokens": 100,  # "token" is a credential key, "max_tokens" is not
        "messages": [
            {"role": "user", "content": "I am jane@example.com, card 4111 1111 1111 1111"},
            {"role": "user", "content": [{"type": "text", "text": "+1 415 555 2671"}]},
        ],
        "metadata": {"Api-Key": "anything at all", "password": 12345, "card": 4111111111111111},
        "n": 7,
        "flag": True,
        "none": None,
    }
    assert DEFAULT.redact_json(doc) == {
        "model": "gpt-4o",
        "max_tokens": 100,
        "messages": [
            {"role": "user", "content": "I am [EMAIL], card [CARD]"},
            {"role": "user", "content": [{"type": "text", "text": "[PHONE]"}]},
        ],
        "metadata": {"Api-Key": "[SECRET]", "password": "[SECRET]", "card": "[CARD]"},
        "n": 7,
        "flag": True,
        "none": None,
    }
    assert doc["metadata"]["password"] == 12345  # a copy: the original is untouched


@pytest.mark.parametrize(
    ("redactor", "text", "expected"),
    [
        (Redactor({"employee": r"\bEMP-\d{5}\b"}), "EMP-12345 at a@b.io", "[EMPLOYEE] at [EMAIL]"),
        (Redactor([("order", r"\bA-\d{6}\b")]), "order A-123456", "order [ORDER]"),
        (Redactor({"x": r"\bEMP-\d{5}\b"}, defaults=False), "EMP-12345 a@b.io", "[X] a@b.io"),
    ],
)
def test_extra_patterns(redactor: Redactor, text: str, expected: str) -> None:
    assert redactor.redact(text) == expected


def test_secret_keys_are_configurable() -> None:
    r = Redactor(secret_keys=["session"])
    assert r.redact_json({"session": "s1", "password": "p"}) == {"session": "[SECRET]",
                                                                 "password": "p"}  # fmt: skip


@given(st.text(alphabet="abcdefghij .,!?\n", max_size=300))
def test_text_without_digits_or_at_signs_is_untouched(text: str) -> None:
    assert DEFAULT.redact(text) == text


@given(st.text(max_size=300))
def test_redaction_is_idempotent(text: str) -> None:
    once = DEFAULT.redact(text)
    assert DEFAULT.redact(once) == once
