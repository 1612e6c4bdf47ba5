"""Data plane of recsys-operator: data, models, index, serving logic, pipelines, local runtime."""
