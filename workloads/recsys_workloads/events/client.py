"""A tiny stdlib HTTP client for `POST /events` (CLI, tests, benchmark): no extra dependency."""

from __future__ import annotations

import http.client
import json
import uuid
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


class EventClient:
    """One keep-alive connection (not thread-safe: one per thread)."""

    def __init__(self, host: str, port: int, timeout_s: float = 10.0, token: str = "") -> None:
        """`token`: sent as `Authorization: Bearer` (a service started with a token asks for it)."""
        self.host, self.port, self.timeout_s, self.token = host, port, timeout_s, token
        self._conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, payload: object | None = None) -> Answer:
        data = None if payload is None else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        for attempt in (0, 1):  # one reconnect: the server may have closed an idle keep-alive
            conn = self._conn or http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
            self._conn = conn
            try:
                conn.request(method, path, body=data, headers=headers)
                response = conn.getresponse()
                raw = response.read()
            except (ConnectionError, http.client.HTTPException):
                self.close()
                if attempt:
                    raise
                continue
            text = raw.decode() or "{}"
            body = (
                json.loads(text)
                if response.headers.get_content_type() == "application/json"
                else {"text": text}
            )
            return Answer(response.status, body, {k.lower(): v for k, v in response.getheaders()})
        raise AssertionError("unreachable")

    def post_events(self, payload: object) -> Answer:
        return self.request("POST", "/events", payload)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None


def new_event_id() -> str:
    return uuid.uuid4().hex
