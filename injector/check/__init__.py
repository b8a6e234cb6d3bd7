"""``vsi-injector --check``: what a run would do with these settings, and why it would fail.

``preflight`` (the whole check, the run's own steps asked without writing) over ``keys`` (each
volume's key as the check sees it) and ``tls`` (one handshake with Vault and what it shows).
"""
