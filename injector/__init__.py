"""The key-injector init container (``vsi-injector``): per-volume keys from Vault to memory.

Modules, from the entry point down (an import-linter ``layers`` contract in pyproject.toml keeps
imports pointing this way): ``cli`` (the command line, and where errors become exit codes),
``run`` (one run: key paths, keys, files), ``keys`` (get-or-create), the I/O shells ``vault``
(hvac session), ``output`` (key files), ``luks`` and ``kube`` (PVC -> PV lookups), then the
settings: ``config`` (flags and ``VSI_*``), ``env`` (``VAULT_*``) and ``checks`` (shared value
checks), then ``model`` (the frozen settings), ``layouts`` (key paths, pure) and ``deadline``, and
``errors`` at the bottom.
"""
