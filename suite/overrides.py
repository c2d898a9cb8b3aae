"""``key=value`` overrides from the command line, checked against an ablation's config and factors."""

from __future__ import annotations

import math
from typing import Any

from suite.errors import UsageError
from suite.registry import Ablation, Param

_TRUE, _FALSE = {"true", "yes", "1", "on"}, {"false", "no", "0", "off"}


def parse_value(text: str, kind: type, key: str) -> Any:
    """``text`` as a value of ``kind`` (bool, int, float or str), or a one-line UsageError."""
    text = text.strip()
    try:
        if kind is bool:
            if text.lower() in _TRUE | _FALSE:
                return text.lower() in _TRUE
            raise ValueError
        if kind is int:
            return int(text)
        if kind is float:
            value = float(text)
            if not math.isfinite(value):
                raise ValueError
            return value
        if not text:
            raise ValueError
        return text
    except ValueError:
        expected = {bool: "true or false", int: "an integer", float: "a finite number", str: "a non-empty string"}
        raise UsageError(f"{key}={text!r}: expected {expected[kind]}") from None


def _check_param(key: str, value: Any, param: Param) -> None:
    if param.choices is not None and value not in param.choices:
        raise UsageError(f"{key}={value!r}: must be one of {', '.join(map(str, param.choices))}")
    if param.min is not None and value < param.min:
        raise UsageError(f"{key}={value!r}: must be >= {param.min}")
    if param.max is not None and value > param.max:
        raise UsageError(f"{key}={value!r}: must be <= {param.max}")


def parse_overrides(abl: Ablation, tokens: list[str]) -> tuple[dict[str, Any], dict[str, tuple]]:
    """Split ``key=value`` tokens into config values and factor lists (``depth=3,12`` sets two values)."""
    config: dict[str, Any] = {}
    factors: dict[str, tuple] = {}
    valid = sorted([*abl.config, *abl.factors])
    for token in tokens:
        key, sep, text = token.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"override {token!r} must look like key=value (valid keys: {', '.join(valid)})")
        if key in abl.config:
            param = abl.config[key]
            value = parse_value(text, param.type, key)
            _check_param(key, value, param)
            config[key] = value
        elif key in abl.factors:
            kind = type(abl.factors[key][0])
            values = tuple(dict.fromkeys(parse_value(t, kind, key) for t in text.split(",")))
            known = abl.factor_values(key)
            if kind is str and (bad := [v for v in values if v not in known]):
                raise UsageError(f"{key}={bad[0]!r}: must be one of {', '.join(known)}")
            if kind in (int, float) and (bad := [v for v in values if v <= 0 and min(known) > 0]):
                raise UsageError(f"{key}={bad[0]!r}: must be positive")
            factors[key] = values
        else:
            raise UsageError(f"unknown key {key!r} for ablation {abl.name} (valid keys: {', '.join(valid)})")
    return config, factors
