"""Developer tools that `make lint` runs; not part of the installed package."""
