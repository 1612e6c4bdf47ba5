"""Who may call the two front doors (recommendation API, event service), how often, how much.

The spec names a Secret (`spec.api.auth.tokenSecretRef`, `spec.events.auth.tokenSecretRef`),
never a credential: the operator renders it into the pod's environment (`AccessEnv.TOKEN`
through `valueFrom.secretKeyRef`), and the ConfigMap'd service config carries only
`GuardConfig.token_required`, so a pod whose Secret value is empty refuses to start rather
than serve unguarded. Local mode sets the same variable, or `AccessEnv.TOKEN_FILE`.
"""

from __future__ import annotations

from typing import Final

from pydantic import Field

from recsys_workloads.contracts.spec import ObjectName, SpecModel

SECRET_KEY_PATTERN: Final = r"^[-._a-zA-Z0-9]+$"  # a Secret's data key (ConfigMap key grammar)
MAX_RATE: Final = 1_000_000.0
DEFAULT_MAX_BODY_BYTES: Final = 4 * 1024 * 1024


class SecretKeyRef(SpecModel):
    """One key of a Secret in the recommender's namespace."""

    name: ObjectName = Field(description="Secret in the RecommenderSystem's namespace")
    key: str = Field(
        "token", pattern=SECRET_KEY_PATTERN, max_length=253, description="data key holding the value"
    )


class AuthSpec(SpecModel):
    """Bearer-token authentication of a front door; without a Secret reference it is open."""

    token_secret_ref: SecretKeyRef | None = Field(
        None,
        description="Secret key whose value callers send as 'Authorization: Bearer <value>'; "
        "empty: no token asked (health, readiness and metrics are always open)",
    )


class RateLimitConfig(SpecModel):
    """A token bucket per client address: `burst` requests at once, refilled at `requestsPerSecond`.

    The client is the TCP peer. Behind an ingress or a load balancer that does not keep source
    addresses, every caller is that proxy's address: limit there, or size the bucket for it.
    """

    requests_per_second: float = Field(
        0.0, ge=0.0, le=MAX_RATE, description="sustained requests per second per client (0: no limit)"
    )
    burst: int = Field(100, ge=1, le=1_000_000, description="requests a client may make at once")
    max_clients: int = Field(
        10_000, ge=1, le=10_000_000, description="buckets kept (least recently seen dropped first)"
    )


class GuardConfig(SpecModel):
    """What the service process enforces in front of its routes (part of its JSON config)."""

    token_required: bool = Field(
        False,
        description="refuse to start without a token in the environment (set when the spec names a Secret)",
    )
    rate_limit: RateLimitConfig = Field(default_factory=RateLimitConfig)
    max_body_bytes: int = Field(
        DEFAULT_MAX_BODY_BYTES, ge=1_024, le=256 * 1024 * 1024, description="request body size (413 above)"
    )


class AccessEnv:
    """Environment of the API and event service pods (set by the operator from Secrets)."""

    TOKEN: Final = "RECSYS_AUTH_TOKEN"  # the token this service asks of its callers
    TOKEN_FILE: Final = "RECSYS_AUTH_TOKEN_FILE"  # ...or a file holding it (local mode)
    EVENTS_TOKEN: Final = "RECSYS_EVENTS_TOKEN"  # the API's token for the event service it forwards to
