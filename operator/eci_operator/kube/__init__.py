"""Kubernetes API I/O: the JSON client, resource paths, and the writes the operator makes. No decisions."""
