"""The product on one machine: local mode (both planes as processes) and the Kubernetes test beds.

It is the one package that imports both planes; neither plane imports it.
"""
