"""The injector's settings: flags, ``VSI_*`` and ``VAULT_*`` into frozen `Settings`, no network.

``flags`` (the command-line values and ``VSI_*``) over ``vault_env`` (``VAULT_*``), both over
``parsers`` (the value parsers they share, one-line errors naming the setting) and ``model`` (the
frozen dataclasses). Pure: standard library only, so a bad setting exits 2 before any client
library is loaded.
"""
