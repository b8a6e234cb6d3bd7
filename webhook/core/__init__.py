"""The pure core: profiles, the mutation rules and the JSON Patch they produce.

Nothing here does I/O beyond reading the profiles file it is asked to read: no aiohttp, no
Kubernetes client, no clock. An import-linter contract keeps it so (see docs/architecture.md).
"""
