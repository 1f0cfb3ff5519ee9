"""Redact personal data and secrets from the shadow pairs kept for people to read. Pure.

Default rules, applied in this order (each sees the previous one's output, so a span is redacted
once, by the most specific rule):

  secret  sk-... keys (OpenAI, Anthropic), GitHub (ghp_..., github_pat_...) and Slack (xox?-...)
          tokens, AWS access key ids (AKIA/ASIA + 16), JWTs, the token after "Bearer " (12+
          characters with a digit, so "bearer instruments" stays), hex strings of 32+ digits,
          and base64-like runs of 32+ characters with digits and both cases in short runs
          (random text; identifiers and URL paths are words, see _random_looking).
  email   local@domain.tld
  card    13-19 digits, optionally grouped by single spaces or dashes, passing the Luhn check
          (which a random long number fails 90% of the time: that keeps most ids readable).
  phone   9-15 digits in all, in one of these shapes: + and a country code, then groups
          (+1 415 555 2671, +442079460958); North American (415) 555-2671, 415-555-2671,
          415.555.2671, 415 555 2671; national numbers starting with 0, in groups
          (020 7946 0958, 06 12 34 56 78). A bare run of digits without + is not a phone (it
          is more often an id or an amount); dates (2024-01-15, 15.01.2024) have too few digits
          or the wrong shape.

Each match becomes "[EMAIL]", "[PHONE]", "[CARD]", "[SECRET]" (or "[NAME]" for an extra rule
called "name"). A rule whose pattern has a group named `secret` replaces only that group
("Bearer [SECRET]").

In JSON documents (`redact_json`), every string value is redacted; keys are kept (they are field
names, and the reader needs them); an integer that is a Luhn-valid card number becomes "[CARD]";
and the whole value of a field named like a credential (authorization, api_key, password...)
becomes "[SECRET]" whatever it looks like.

Patterns are compiled once, when a Redactor is built; `DEFAULT` is built at import.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

Check = Callable[[str], bool]

MAX_MEAN_CASE_RUN = 3.0  # see _random_looking


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card(span: str) -> bool:
    digits = re.sub(r"[ -]", "", span)
    return 13 <= len(digits) <= 19 and luhn_ok(digits)


def _digit_count(low: int, high: int) -> Check:
    return lambda span: low <= sum(ch.isdigit() for ch in span) <= high


def _has_digit(span: str) -> bool:
    return any(ch.isdigit() for ch in span)


_LOWER_RUN = re.compile(r"[a-z]+")
_UPPER_RUN = re.compile(r"[A-Z]+")


def _mean_run(runs: re.Pattern[str], span: str) -> float:
    lengths = [len(m) for m in runs.findall(span)]
    return sum(lengths) / len(lengths) if lengths else 0.0


def _random_looking(span: str) -> bool:
    """Upper case, lower case and digits, in short runs. In random base64 a run of one case
    averages 1.7 letters; identifiers and paths are made of words (camelCase averages 4+), so
    they stay readable. Catches about 99% of random 40-character base64 secrets and 98% of
    32-character URL-safe ones; the named key formats above catch the common cases anyway."""
    return (
        _has_digit(span)
        and 0 < _mean_run(_LOWER_RUN, span) <= MAX_MEAN_CASE_RUN
        and 0 < _mean_run(_UPPER_RUN, span) <= MAX_MEAN_CASE_RUN
    )


@dataclass(frozen=True, slots=True)
class Rule:
    label: str  # the replacement shows it: "[EMAIL]"
    pattern: re.Pattern[str]
    check: Check | None = None  # a match is redacted only if this accepts it


# Not preceded or followed by a word character: the match is a whole token.
_B, _E = r"(?<![\w])", r"(?![\w])"
_SEP = r"[ .-]"

DEFAULT_RULES: tuple[Rule, ...] = (
    Rule("SECRET", re.compile(r"(?i)\bbearer\s+(?P<secret>[\w.~+/=-]{12,})"), _has_digit),
    Rule("SECRET", re.compile(_B + r"sk-[\w-]{16,}")),
    Rule("SECRET", re.compile(_B + r"(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_\w{30,})")),
    Rule("SECRET", re.compile(_B + r"xox[abprs]-[A-Za-z0-9-]{10,}")),
    Rule("SECRET", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    Rule("SECRET", re.compile(r"\beyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]{8,}")),
    Rule("SECRET", re.compile(r"\b[0-9a-fA-F]{32,}\b")),
    Rule("SECRET", re.compile(r"(?<![\w+/-])[\w+/-]{32,}={0,2}(?![\w+/=-])"), _random_looking),
    Rule("EMAIL", re.compile(r"\b[\w.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")),
    Rule("CARD", re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])"), _card),
    Rule(
        "PHONE",
        re.compile(
            r"(?<![\w+])(?:"
            r"\+\d{1,3}(?:" + _SEP + r"?\(\d{1,4}\))?(?:" + _SEP + r"?\d{1,5}){2,6}"
            r"|\(\d{3}\)" + _SEP + r"?\d{3}[.-]\d{4}"
            r"|\d{3}([ .-])\d{3}\1\d{4}"
            r"|0\d{1,4}(?:" + _SEP + r"\d{2,8}){1,4}"
            r")(?![\w-]|\.\d)"
        ),
        _digit_count(9, 15),
    ),
)

DEFAULT_SECRET_KEYS = frozenset(
    {
        "authorization",
        "proxy_authorization",
        "api_key",
        "apikey",
        "x_api_key",
        "password",
        "passwd",
        "secret",
        "client_secret",
        "access_token",
        "refresh_token",
        "token",
        "cookie",
        "set_cookie",
    }
)


def _key_name(key: str) -> str:
    return key.lower().replace("-", "_")


class Redactor:
    """Applies the rules to text and to JSON documents. Build once, share freely."""

    def __init__(
        self,
        extra: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        defaults: bool = True,
        secret_keys: Iterable[str] = DEFAULT_SECRET_KEYS,
    ) -> None:
        """`extra`: rule name -> regular expression, applied after the defaults."""
        pairs = extra.items() if isinstance(extra, Mapping) else extra
        added = tuple(Rule(name.upper(), re.compile(pattern)) for name, pattern in pairs)
        self.rules: tuple[Rule, ...] = (DEFAULT_RULES if defaults else ()) + added
        self.secret_keys = frozenset(_key_name(k) for k in secret_keys)
        self._subs = tuple((rule.pattern.sub, _replacer(rule)) for rule in self.rules)

    def redact(self, text: str) -> str:
        for sub, replace in self._subs:
            text = sub(replace, text)
        return text

    def redact_json(self, value: Any) -> Any:
        """A redacted copy of a parsed JSON document (dicts, lists, strings, numbers...)."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {k: self._field(k, v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.redact_json(v) for v in value]
        if isinstance(value, int) and not isinstance(value, bool) and _card(str(abs(value))):
            return "[CARD]"
        return value

    def _field(self, key: Any, value: Any) -> Any:
        if isinstance(key, str) and _key_name(key) in self.secret_keys and value is not None:
            return "[SECRET]"
        return self.redact_json(value)


def _replacer(rule: Rule) -> Callable[[re.Match[str]], str]:
    token = f"[{rule.label}]"
    partial = "secret" in rule.pattern.groupindex

    def replace(m: re.Match[str]) -> str:
        if rule.check is not None and not rule.check(m.group()):
            return m.group()
        if partial:
            start, end = m.span("secret")
            whole = m.group()
            return whole[: start - m.start()] + token + whole[end - m.start() :]
        return token

    return replace


DEFAULT = Redactor()


def clip_strings(value: Any, cap: int) -> Any:
    """Every string of a JSON value cut to `cap` characters (a document pasted into a prompt),
    saying how much was left out: what people read of a kept request stays readable."""
    if isinstance(value, str):
        if len(value) <= cap:
            return value
        return value[:cap] + f"... [{len(value) - cap} more characters]"
    if isinstance(value, dict):
        return {k: clip_strings(v, cap) for k, v in value.items()}
    if isinstance(value, list):
        return [clip_strings(v, cap) for v in value]
    return value
