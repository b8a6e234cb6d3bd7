"""The key-injector init container (``vsi-injector``): per-volume keys from Vault to memory.

Modules, from the entry point down (an import-linter ``layers`` contract in pyproject.toml keeps
imports pointing this way): ``cli`` (the command line, and where errors become exit codes),
``preflight`` (``--check``: a run's steps asked without writing), ``run`` (one run: key paths,
keys, files) beside ``keystate`` (``--check`` per volume), ``keys`` (get-or-create, proven
creates), the I/O shells ``vault`` (login, retries, re-login), ``output`` (key files), ``luks``,
``kube`` (PVC -> PV lookups) and ``tlsprobe`` (``--check``'s TLS handshake), ``transport`` (the one
way to Vault: one origin, no redirects, bounded answers), then the settings: ``config`` (flags and
``VSI_*``), ``env`` (``VAULT_*``) and ``checks`` (shared value checks), then ``answers`` (the
answer table, pure), ``replies`` (what each endpoint promises), ``tlsfacts`` (certificate facts
into checks, pure), ``model`` (the frozen settings), ``layouts`` (key paths and key checks, pure),
``deadline`` and ``redact`` (secrets out of quoted text), and ``errors`` at the bottom.
"""
