"""Argument types of the `rollout` admin commands: a bad value is a usage error (exit 2)."""

from __future__ import annotations

import argparse


def text(value: str) -> str:
    if not value.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return value


def number(value: str, low: float, high: float) -> float:
    try:
        parsed = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not low <= parsed <= high:
        raise argparse.ArgumentTypeError(f"must be between {low:g} and {high:g}, not {value}")
    return parsed


def fraction(value: str) -> float:
    return number(value, 0.0, 1.0)


def percent(value: str) -> float:
    return number(value, 0.0, 100.0)


def limit(value: str) -> int:
    try:
        parsed = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if not 1 <= parsed <= 1000:
        raise argparse.ArgumentTypeError(f"must be between 1 and 1000, not {value}")
    return parsed


def seconds(value: str) -> float:
    """A positive number of seconds (for --watch)."""
    parsed = number(value, 0.0, 86400.0)
    if parsed <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, not {value}")
    return parsed
