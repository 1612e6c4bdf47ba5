"""Local mode: the operator's reconcile logic on one machine, with processes and folders
standing in for Deployments and volumes (`recsys local up|status|train|down`)."""
