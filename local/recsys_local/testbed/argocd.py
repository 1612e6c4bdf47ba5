"""Argo CD's view of our objects: run deploy/argocd's health.lua as Argo CD runs it.

Argo CD runs gopher-lua, a Lua 5.1, with the live object as `obj`; lupa's Lua 5.1 is the
closest runtime on PyPI (one Lua version per process: fakeredis loads 5.1 too).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lupa import lua51

HEALTH_DIR = Path("deploy") / "argocd" / "health" / "recsys.io"


def health(root: Path, kind: str, obj: Mapping[str, Any]) -> dict[str, str]:
    """{status, message} of `obj` (a RecommenderSystem or TrainingRun as the API server returns it)."""
    runtime = lua51.LuaRuntime(unpack_returned_tuples=True)
    runtime.globals().obj = runtime.table_from(dict(obj), recursive=True)
    result = runtime.execute((root / HEALTH_DIR / kind / "health.lua").read_text())
    return {"status": str(result["status"]), "message": str(result["message"])}
