"""Local runtime: real servers (Triton, Redis/Valkey) run as supervised processes on loopback.

Local mode and the tests use these launchers; in a cluster the operator runs the same
binaries as Deployments.
"""
