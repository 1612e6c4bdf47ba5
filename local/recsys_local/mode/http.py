"""JSON over HTTP to the local system's API and event service (stdlib: the CLI stays light).

When local mode runs with a token ($RECSYS_AUTH_TOKEN or the file $RECSYS_AUTH_TOKEN_FILE names,
`runtime.http_guard.load_token`), every call sends it as a bearer token.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from recsys_workloads.runtime.http_guard import load_token


class UnreachableError(RuntimeError):
    """Nothing answered at the URL (the server is down or the address is wrong)."""


def call(method: str, url: str, payload: Any = None, timeout_s: float = 10.0) -> tuple[int, Any]:
    """(status, decoded JSON body); 4xx/5xx are answers, not exceptions."""
    data = json.dumps(payload).encode() if payload is not None else None
    headers = {"Content-Type": "application/json"}
    if token := load_token():
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as resp:
            return int(resp.status), json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        body = exc.read()
        try:
            return exc.code, json.loads(body)
        except ValueError:
            return exc.code, {"detail": body.decode(errors="replace")}
    except (urllib.error.URLError, OSError) as exc:
        raise UnreachableError(f"cannot reach {url}: {exc}") from exc


def post(url: str, payload: Any, timeout_s: float = 10.0) -> tuple[int, Any]:
    return call("POST", url, payload, timeout_s)


def get(url: str, params: list[tuple[str, str]] | None = None, timeout_s: float = 10.0) -> tuple[int, Any]:
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    return call("GET", url + query, None, timeout_s)
