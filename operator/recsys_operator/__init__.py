"""Control plane of recsys-operator: CRD models, kopf handlers, reconcilers, adapters."""
