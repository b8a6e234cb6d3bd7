"""The key-injector init container (``vsi-injector``): per-volume keys from Vault to memory.

Three subsystems, each a package, over the settings and a few pure foundations (an import-linter
``layers`` contract per package in pyproject.toml keeps imports pointing down): ``cli`` (the
command line, and where errors become exit codes); ``check`` (``--check``: a run's steps asked
without writing); ``run`` (one run: key paths, keys, files) with ``keys`` (get-or-create under
the key safety rules, the key files, the LUKS guard, PV look-ups); ``vault`` (the Vault client:
session, transport, the reply table); ``settings`` (flags, ``VSI_*`` and ``VAULT_*`` into frozen
settings); then ``layouts`` (key paths and key checks), ``deadline``, ``redact`` (secrets out of
quoted text) and ``errors`` at the bottom. docs/architecture.md draws the tree.
"""
