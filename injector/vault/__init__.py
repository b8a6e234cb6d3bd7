"""The Vault client: one transport, one table of what a reply means, the session, the KV mount.

From the top: ``session`` (login, re-login, retries within the deadline), ``transport`` (urllib3
to VAULT_ADDR's origin only, no redirects, bounded replies) over ``tls`` (the TLS context, also
used by ``--check``'s handshake), ``replies`` (the reply table and its classifier, pure) and
``schemas`` (what each endpoint's success carries, pure). Importing the package loads nothing:
urllib3 comes with ``transport``, after the settings are valid.
"""
