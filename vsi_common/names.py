"""Every environment name and value the webhook and the injector agree on, in one place.

The webhook writes these names into the containers it injects and the injector reads them, so
they are the contract between the two; docs/injector.md is tested against this module. The
``VAULT_*`` names are those Portworx (libopenstorage/secrets) and Rook read, so one px-vault style
Secret serves all three. The ``VSI_*`` names mirror the injector's flags so the webhook can pass
either. Pure: standard library only.
"""

from typing import Final

VAULT_ADDR: Final = "VAULT_ADDR"
"""Vault address, an http or https URL (required), e.g. ``https://vault.vault.svc:8200``."""
VAULT_TOKEN: Final = "VAULT_TOKEN"  # noqa: S105  # a variable name, not a secret
"""Token for ``VAULT_AUTH_METHOD=token`` (the default when set)."""
VAULT_AUTH_METHOD: Final = "VAULT_AUTH_METHOD"
"""``token``, ``kubernetes`` or ``approle``; default ``token`` when VAULT_TOKEN is set."""
VAULT_AUTH_KUBERNETES_ROLE: Final = "VAULT_AUTH_KUBERNETES_ROLE"
"""Vault role for kubernetes auth (required with ``VAULT_AUTH_METHOD=kubernetes``)."""
VAULT_AUTH_KUBERNETES_TOKEN_PATH: Final = "VAULT_AUTH_KUBERNETES_TOKEN_PATH"  # noqa: S105  # a variable name, not a secret
"""JWT file for kubernetes auth; default the pod's service-account token."""
VAULT_AUTH_MOUNT_PATH: Final = "VAULT_AUTH_MOUNT_PATH"
"""Mount path of the kubernetes (or approle) auth method; default ``kubernetes`` (``approle``)."""
VAULT_APPROLE_ROLE_ID: Final = "VAULT_APPROLE_ROLE_ID"
"""AppRole role_id (required with ``VAULT_AUTH_METHOD=approle``)."""
VAULT_APPROLE_SECRET_ID: Final = "VAULT_APPROLE_SECRET_ID"  # noqa: S105  # a variable name, not a secret
"""AppRole secret_id (required with ``VAULT_AUTH_METHOD=approle``)."""
VAULT_BACKEND_PATH: Final = "VAULT_BACKEND_PATH"
"""Mount path of the KV secrets engine; default ``secret``."""
VAULT_BACKEND: Final = "VAULT_BACKEND"
"""KV version: ``kv`` / ``v1`` or ``kv-v2`` / ``v2``; unset means detect it from the mount."""
VAULT_SECRET_ENGINE: Final = "VAULT_SECRET_ENGINE"  # noqa: S105  # a variable name, not a secret
"""Secrets engine: ``kv`` (default; ``transit`` is not supported yet)."""
VAULT_NAMESPACE: Final = "VAULT_NAMESPACE"
"""Vault/OpenBao namespace sent on every request; default none."""
VAULT_CACERT: Final = "VAULT_CACERT"
"""PEM file of CA certificates to verify the Vault server."""
VAULT_CAPATH: Final = "VAULT_CAPATH"
"""Directory of PEM CA certificates to verify the Vault server."""
VAULT_CLIENT_CERT: Final = "VAULT_CLIENT_CERT"
"""PEM client certificate for mutual TLS (with VAULT_CLIENT_KEY)."""
VAULT_CLIENT_KEY: Final = "VAULT_CLIENT_KEY"
"""PEM client key for mutual TLS (with VAULT_CLIENT_CERT)."""
VAULT_TLS_SERVER_NAME: Final = "VAULT_TLS_SERVER_NAME"
"""Name to verify and send as SNI when it differs from the host in VAULT_ADDR."""
VAULT_SKIP_VERIFY: Final = "VAULT_SKIP_VERIFY"
"""``true`` disables TLS verification (allowed, loudly logged); default false."""

VAULT_CLIENT_TIMEOUT: Final = "VAULT_CLIENT_TIMEOUT"
"""Longest wait for one request: whole seconds or a Go duration (``30s``); default the client's."""
VAULT_MAX_RETRIES: Final = "VAULT_MAX_RETRIES"
"""Retries of one failed request (a whole number, ``0``: none); default: until the deadline."""

VAULT_BASE_PATH: Final = "VAULT_BASE_PATH"
"""Portworx: the path under the KV mount where it keeps its keys (``portworx``); default none."""
VAULT_COOLDOWN_PERIOD: Final = "VAULT_COOLDOWN_PERIOD"
"""libopenstorage/secrets: pause after failed logins, a Go duration over 1m or ``0``; default 5m."""
VAULT_RATE_LIMIT: Final = "VAULT_RATE_LIMIT"
"""Vault's Go client: requests per second, ``rate`` or ``rate:burst``; default unlimited."""
VAULT_SRV_LOOKUP: Final = "VAULT_SRV_LOOKUP"
"""Vault's Go client: find the server through a DNS SRV record (a boolean); default false."""
VAULT_AGENT_ADDR: Final = "VAULT_AGENT_ADDR"
"""Vault's Go client: a Vault Agent to send requests to instead of VAULT_ADDR (a URL)."""
VAULT_HTTP_PROXY: Final = "VAULT_HTTP_PROXY"
"""Vault's Go client: the HTTP proxy for requests to Vault (a URL); VAULT_PROXY_ADDR wins."""
VAULT_PROXY_ADDR: Final = "VAULT_PROXY_ADDR"
"""Vault's Go client: the HTTP proxy for requests to Vault (a URL)."""

VAULT_SETTINGS: Final = (
    VAULT_ADDR,
    VAULT_TOKEN,
    VAULT_BACKEND_PATH,
    VAULT_BACKEND,
    VAULT_SECRET_ENGINE,
    VAULT_NAMESPACE,
    VAULT_CACERT,
    VAULT_CAPATH,
    VAULT_CLIENT_CERT,
    VAULT_CLIENT_KEY,
    VAULT_TLS_SERVER_NAME,
    VAULT_SKIP_VERIFY,
    VAULT_AUTH_METHOD,
    VAULT_AUTH_KUBERNETES_ROLE,
    VAULT_AUTH_KUBERNETES_TOKEN_PATH,
    VAULT_AUTH_MOUNT_PATH,
    VAULT_APPROLE_ROLE_ID,
    VAULT_APPROLE_SECRET_ID,
    VAULT_CLIENT_TIMEOUT,
    VAULT_MAX_RETRIES,
)
"""Every VAULT_* name the injector reads, in the order the webhook injects them (px-vault
``secretKeyRef``s or values)."""
PASS_THROUGH_SETTINGS: Final = (
    VAULT_BASE_PATH,
    VAULT_COOLDOWN_PERIOD,
    VAULT_RATE_LIMIT,
    VAULT_SRV_LOOKUP,
    VAULT_AGENT_ADDR,
    VAULT_HTTP_PROXY,
    VAULT_PROXY_ADDR,
)
"""VAULT_* names only Portworx and Rook read (the injector does not): the webhook passes them on
to their containers, after `VAULT_SETTINGS`."""
ALL_SETTINGS: Final = (*VAULT_SETTINGS, *PASS_THROUGH_SETTINGS)
"""Every VAULT_* name, in injection order (`vsi_common.vault_values` says who reads which)."""

WEBHOOK_NAMESPACE: Final = "vault-storage-injector"
"""The webhook's namespace in manifests/base: the default of ``vsi-webhook doctor`` and
``vsi-certs generate`` (``POD_NAMESPACE`` first)."""
WEBHOOK_SERVICE: Final = "vault-storage-injector"
"""The webhook's Service in manifests/base: the default ``--service`` of both commands."""
POD_NAMESPACE: Final = "POD_NAMESPACE"
"""The downward-API variable of a pod's own namespace, read before `WEBHOOK_NAMESPACE`."""

LAYOUT_ROOK: Final = "rook"
"""`VSI_LAYOUT` value for Rook-Ceph OSDs on PVCs (Rook's own key naming, file ``luks_key``)."""
LAYOUT_VOLUME_KEYS: Final = "volume-keys"
"""`VSI_LAYOUT` value for one generic 256-bit key per PVC (file named after the PVC)."""
LAYOUTS: Final = (LAYOUT_ROOK, LAYOUT_VOLUME_KEYS)
"""Every layout name, as accepted by ``--layout`` / `VSI_LAYOUT`."""

VSI_LAYOUT: Final = "VSI_LAYOUT"
"""``--layout``: ``rook`` or ``volume-keys`` (required)."""
VSI_VOLUMES: Final = "VSI_VOLUMES"
"""``--volume``: PVC names, comma-separated (at least one)."""
VSI_OUTPUT_DIR: Final = "VSI_OUTPUT_DIR"
"""``--output-dir``: directory (an in-memory volume) that receives the key files (required)."""
VSI_NAMESPACE: Final = "VSI_NAMESPACE"
"""``--namespace``: namespace of the PVCs; default the pod's namespace (POD_NAMESPACE)."""
VSI_SEED_FILE: Final = "VSI_SEED_FILE"
"""``--seed-file``: rook layout only, a Rook-stored key to migrate into Vault once."""
VSI_VERIFY_LUKS: Final = "VSI_VERIFY_LUKS"
"""``--verify-luks``: a block device or file whose LUKS header the key must unlock."""
VSI_DEADLINE: Final = "VSI_DEADLINE"
"""``--deadline``: seconds for the whole run, retries included; default 60."""
VSI_KEY_PATH_TEMPLATE: Final = "VSI_KEY_PATH_TEMPLATE"
"""``--key-path-template``: volume-keys layout, with {namespace} {pvc} {pv} {volume_handle}."""
VSI_FILE_OWNER: Final = "VSI_FILE_OWNER"
"""``--file-owner``: ``UID[:GID]`` that owns the key files; default the injector's own user."""
VSI_FILE_GROUP_READABLE: Final = "VSI_FILE_GROUP_READABLE"
"""``--group-readable``: ``true`` makes key files 0440 (for an fsGroup reader); default 0400."""
VSI_KV1_ALLOW_OVERWRITE_POLICY: Final = "VSI_KV1_ALLOW_OVERWRITE_POLICY"
"""``true`` lets KV v1 keys be created by a token that may ``update`` them; default false.

Risky: KV v1 has no CAS, so racing injectors can each store a key and all but the last hold one
Vault no longer has. Without it the injector refuses to create a KV v1 key unless the token's
policy is create-only (``create`` and ``read``, no ``update``)."""
VSI_LOG_FORMAT: Final = "VSI_LOG_FORMAT"
"""``--log-format``: ``json`` (default) or ``text``."""
VSI_TLS_DIR: Final = "VSI_TLS_DIR"
"""Directory of the mounted TLS files (`TLS_CA_FILE`, `TLS_CERT_FILE`, `TLS_KEY_FILE`): the
injector uses the ones it finds there for the VAULT_* file settings left unset; default none."""

TLS_CA_FILE: Final = "ca.crt"
"""File in `VSI_TLS_DIR` with the CA bundle that verifies Vault (fills VAULT_CACERT)."""
TLS_CERT_FILE: Final = "tls.crt"
"""File in `VSI_TLS_DIR` with the client certificate for mutual TLS (fills VAULT_CLIENT_CERT)."""
TLS_KEY_FILE: Final = "tls.key"
"""File in `VSI_TLS_DIR` with the client key for mutual TLS (fills VAULT_CLIENT_KEY)."""
TLS_FILES: Final = (
    (VAULT_CACERT, TLS_CA_FILE),
    (VAULT_CLIENT_CERT, TLS_CERT_FILE),
    (VAULT_CLIENT_KEY, TLS_KEY_FILE),
)
"""Each VAULT_* file setting and the file of the TLS directory that provides it."""
