"""Profiles as text (`tsuc run --profile`) and as JSON (`--profile-json`)."""

from __future__ import annotations

from typing import Any

import numpy as np


def jsonable(value: Any) -> Any:
    """`json.dump(..., default=jsonable)`: numpy scalars and arrays as plain values."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def format_profile(prof: dict[str, Any]) -> str:
    """Per segment (with its nested tables), totals per target, and the overall total."""
    lines = [f"profile (targets {','.join(prof.get('targets', []))}):"]
    for seg in prof.get("segments", []):
        fields = ", ".join(f"{k}={_fmt(v)}" for k, v in seg.items() if k not in ("name", "kind", "target") and not isinstance(v, (list, dict)))
        lines.append(f"  {seg['name']} [{seg['target']}/{seg['kind']}]: {fields}")
        for key, value in seg.items():
            if isinstance(value, dict):
                lines.append(f"    {key}: " + ", ".join(f"{k}={_fmt(v)}" for k, v in value.items()))
            elif isinstance(value, list) and value and isinstance(value[0], dict):
                lines.append(f"    {key}:")
                for item in value:
                    lines.append("      " + ", ".join(f"{k}={_fmt(v)}" for k, v in item.items()))
            elif isinstance(value, list):
                lines.append(f"    {key}: {value}")
    for target, sums in prof.get("by_target", {}).items():
        lines.append(f"  {target} total: " + ", ".join(f"{k}={_fmt(v)}" for k, v in sums.items()))
    total = prof.get("total", {})
    lines.append("  total: " + ", ".join(f"{k}={_fmt(v)}" for k, v in total.items()))
    return "\n".join(lines)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)
