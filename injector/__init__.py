"""The key-injector init container (``vsi-injector``): per-volume keys from Vault to memory.

Modules, from pure to I/O: ``names`` and ``layouts`` (pure), ``settings`` (env + flags into frozen
dataclasses), ``vault`` (hvac session), ``keys`` (get-or-create), ``kube`` (PVC -> PV lookups),
``luks`` and ``output`` (the node side), ``logs``, and ``cli`` (where errors become exit codes).
"""
