#!/usr/bin/env bash
# The Vault (or OpenBao) side of the Portworx example: a KV mount for the volume keys, the Portworx
# policy, and either a Kubernetes auth role for the Portworx service account or a token.
#
#   VAULT_ADDR=https://vault.example.com:8200 VAULT_TOKEN=<admin token> ./setup.sh kubernetes
#   VAULT_ADDR=... VAULT_TOKEN=... ./setup.sh token      # prints a token for VAULT_TOKEN
#
# Settings (environment): VAULT the CLI, vault or bao (vault); MOUNT (portworx); KV_VERSION 1 or 2
# (2); NAMESPACE, the Portworx namespace (portworx; kube-system for DaemonSet installs);
# SERVICE_ACCOUNT of the Portworx pods (portworx; see it with
#   kubectl -n <ns> get pods -l name=portworx -o jsonpath='{.items[0].spec.serviceAccountName}');
# AUTH_MOUNT (kubernetes); ROLE and POLICY (portworx); KUBERNETES_HOST, the API server URL as Vault
# reaches it (only needed when Vault runs outside the cluster: see docs/install.md).
# Safe to run again: an existing mount or auth method is kept. Progress goes to stderr; with
# `token`, stdout is the token alone.
set -euo pipefail

auth="${1:-kubernetes}"
VAULT="${VAULT:-vault}"
MOUNT="${MOUNT:-portworx}"
KV_VERSION="${KV_VERSION:-2}"
NAMESPACE="${NAMESPACE:-portworx}"
SERVICE_ACCOUNT="${SERVICE_ACCOUNT:-portworx}"
AUTH_MOUNT="${AUTH_MOUNT:-kubernetes}"
ROLE="${ROLE:-portworx}"
POLICY="${POLICY:-portworx}"
here="$(cd "$(dirname "$0")" && pwd)"

case "$KV_VERSION" in
  1 | 2) ;;
  *) echo "setup.sh: KV_VERSION must be 1 or 2, not '$KV_VERSION'" >&2; exit 2 ;;
esac
case "$auth" in
  kubernetes | token) ;;
  *) echo "setup.sh: usage: setup.sh kubernetes|token" >&2; exit 2 ;;
esac

if ! "$VAULT" read "sys/mounts/$MOUNT" >/dev/null 2>&1; then
  "$VAULT" secrets enable -path="$MOUNT" -version="$KV_VERSION" kv >&2
fi

# The policy files name the mount "portworx"; use the chosen one.
sed "s|\"portworx/|\"$MOUNT/|" "$here/portworx-kv$KV_VERSION.hcl" | "$VAULT" policy write "$POLICY" - >&2

if [ "$auth" = kubernetes ]; then
  if ! "$VAULT" read "sys/auth/$AUTH_MOUNT" >/dev/null 2>&1; then
    "$VAULT" auth enable -path="$AUTH_MOUNT" kubernetes >&2
  fi
  if [ -n "${KUBERNETES_HOST:-}" ]; then
    "$VAULT" write "auth/$AUTH_MOUNT/config" kubernetes_host="$KUBERNETES_HOST" >&2
  fi
  # Only the Portworx pods of this namespace.
  "$VAULT" write "auth/$AUTH_MOUNT/role/$ROLE" \
    bound_service_account_names="$SERVICE_ACCOUNT" \
    bound_service_account_namespaces="$NAMESPACE" \
    token_policies="$POLICY" \
    token_ttl=1h \
    token_max_ttl=24h >&2
else
  # A periodic orphan token: it outlives the admin token that made it, and expires unless
  # renewed (vault token renew) within the period. Put it in px-vault as VAULT_TOKEN.
  "$VAULT" token create -orphan -policy="$POLICY" -period=768h \
    -display-name="$ROLE" -field=token
fi
