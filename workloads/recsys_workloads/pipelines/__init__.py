"""Kubeflow pipelines (kfp v2 DSL) of lightweight components that call recsys_workloads.

Component bodies only wire: they parse the one parameters object and call library
functions, importing them inside the body (kfp ships the body's source to the step).
"""
