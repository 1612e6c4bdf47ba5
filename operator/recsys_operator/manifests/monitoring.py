"""ServiceMonitors (Prometheus operator) for a recommender's scraped components.

One per component with a `/metrics`: the API and the event service on their HTTP port, Triton
on its metrics port (its per-step model latencies). Each selects its component's Service by
the same labels the Service carries, in the recommender's namespace, and is owned by the
recommender like every other child. Rendered only where `monitoring.coreos.com/v1` is
served: the reconciler applies them and treats "kind not served" as "no Prometheus operator".

No PodMonitor: every pod that exports metrics sits behind a Service with a named metrics port,
and a ServiceMonitor keeps the Service's port name the one place that says where to scrape.
The NetworkPolicies let any source reach the front doors' HTTP port and Prometheus' pods
(`app.kubernetes.io/name: prometheus`) reach Triton's metrics port.
"""

from __future__ import annotations

from typing import Final

from recsys_operator.manifests import api, events, triton
from recsys_operator.manifests.common import Manifest, Owner
from recsys_workloads.contracts.metrics import API_SCRAPE, EVENTS_SCRAPE, TRITON_SCRAPE, ScrapeEndpoint

API_VERSION: Final = "monitoring.coreos.com/v1"
KIND: Final = "ServiceMonitor"
INTERVAL: Final = "30s"
SCRAPED: Final[dict[str, ScrapeEndpoint]] = {
    api.COMPONENT: API_SCRAPE,
    events.COMPONENT: EVENTS_SCRAPE,
    triton.COMPONENT: TRITON_SCRAPE,
}


def service_monitor(owner: Owner, component: str, endpoint: ScrapeEndpoint) -> Manifest:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": owner.metadata(component),
        "spec": {
            "selector": {"matchLabels": owner.selector(component)},
            "namespaceSelector": {"matchNames": [owner.namespace]},
            "endpoints": [{"port": endpoint.port, "path": endpoint.path, "interval": INTERVAL}],
        },
    }


def service_monitors(owner: Owner) -> list[Manifest]:
    return [service_monitor(owner, component, endpoint) for component, endpoint in SCRAPED.items()]
