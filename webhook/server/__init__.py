"""The I/O shell of ``vsi-webhook serve``: aiohttp app, listeners, reloaders, caches, metrics."""
