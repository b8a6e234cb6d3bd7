"""What the webhook, the injector and vsi-certs share: env names, name rules, logging, API access.

Nothing here imports the three commands; they import it (an import-linter contract keeps it so).
"""
