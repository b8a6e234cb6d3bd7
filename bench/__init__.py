"""Benchmarks of issue 7 (``make bench``): admission against an aiohttp floor, the injector against
the OpenBao CLI, scaling with object size and volume count, and the webhook's memory."""
