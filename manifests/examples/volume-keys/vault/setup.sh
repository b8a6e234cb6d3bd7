#!/usr/bin/env bash
# The Vault (or OpenBao) side of the volume-keys profile: a KV mount for the keys, a policy that
# gives each namespace its own keys only, and a kubernetes auth role (or, in token mode, a token
# for one namespace).
#
#   NAMESPACES=team-a,team-b VAULT_ADDR=https://vault.example.com:8200 VAULT_TOKEN=<admin> \
#     ./setup.sh kubernetes
#   NAMESPACES=team-a VAULT_ADDR=... VAULT_TOKEN=... ./setup.sh token   # prints a token
#   NAMESPACES=team-a ./setup.sh --dry-run kubernetes                   # changes nothing
#
# kubernetes: one role ROLE for the service accounts SERVICE_ACCOUNTS in the namespaces
# NAMESPACES, requiring the token audience AUDIENCE (the webhook gives vsi-injector a projected
# token for connection.tokenAudience, default vault). Its policy is templated on the namespace of
# the service account that logged in, so a token of namespace A creates and reads only
# MOUNT/vault-storage-injector/A/* (create-only), even with a forged --namespace. Isolation needs
# {namespace} in the key path template (the default vault-storage-injector/{namespace}/{pvc}).
#
# token: a token carries no service account, so the policy cannot be templated. This mode serves
# exactly one namespace: NAMESPACES must name one, the policy POLICY-<namespace> names it
# literally, and the periodic orphan token on stdout (for the profile's tokenSecret) reaches that
# namespace's keys only. Run it once per namespace, one Secret per namespace.
#
# It looks before it acts and never writes a secret. An existing mount is kept as it is, and its
# KV version decides the policy; cas_required is turned on only on a v2 mount this script creates.
# Run it again: it reports "no changes" (token mode mints a new token each run).
#
# Settings (environment): NAMESPACES (required, comma-separated); VAULT, the CLI: vault or bao
# (vault); MOUNT (secret); KV_VERSION of a new mount, 1 or 2 (2); SERVICE_ACCOUNTS (*); ROLE
# (vault-storage-injector); POLICY (vault-storage-injector); AUTH_MOUNT (kubernetes); AUDIENCE
# (vault); KUBERNETES_HOST, KUBERNETES_CA_CERT, TOKEN_REVIEWER_JWT, ISSUER for the kubernetes auth
# config (a Vault outside the cluster: docs/install.md; see ../../lib/vault-setup.sh). Progress
# goes to stderr; with `token`, stdout is the token alone.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../../lib/vault-setup.sh
. "$here/../../lib/vault-setup.sh"
setup_args "$@"

VAULT="${VAULT:-vault}"
MOUNT="${MOUNT:-secret}"
KV_VERSION="${KV_VERSION:-2}"
SERVICE_ACCOUNTS="${SERVICE_ACCOUNTS:-*}"
ROLE="${ROLE:-vault-storage-injector}"
POLICY="${POLICY:-vault-storage-injector}"
AUTH_MOUNT="${AUTH_MOUNT:-kubernetes}"
AUDIENCE="${AUDIENCE:-vault}"
NAMESPACES="${NAMESPACES:-}"
if [ -z "$NAMESPACES" ]; then
  say "NAMESPACES is required: the comma-separated namespaces whose pods may log in"
  exit 2
fi
case "$KV_VERSION" in 1 | 2) ;; *) say "KV_VERSION must be 1 or 2, not '$KV_VERSION'"; exit 2 ;; esac
if [ "$AUTH" = token ] && [ "$NAMESPACES" != "${NAMESPACES%%,*}" ]; then
  say "NAMESPACES must name one namespace in token mode (a token cannot be isolated per namespace)"
  exit 2
fi

kv_mount "$MOUNT" "$KV_VERSION"
if "$MOUNT_CREATED"; then
  cas_required "$MOUNT" true
fi

# The policy files name the mount "secret" and the accessor ACCESSOR; use the real ones.
if [ "$AUTH" = kubernetes ]; then
  kubernetes_auth "$AUTH_MOUNT"
  accessor="$(auth_accessor "$AUTH_MOUNT")"
  policy "$POLICY" "$(sed -e "s|\"secret/|\"$MOUNT/|" -e "s|\.ACCESSOR\.|.$accessor.|" \
    "$here/volume-keys-kv$KV.hcl")"
  # The pods' tokens are short-lived, one per init container run.
  role "$AUTH_MOUNT" "$ROLE" "$SERVICE_ACCOUNTS" "$NAMESPACES" "$POLICY" 900 3600 "$AUDIENCE"
else
  literal="{{identity.entity.aliases.ACCESSOR.metadata.service_account_namespace}}"
  policy "$POLICY-$NAMESPACES" "$(sed -e "s|\"secret/|\"$MOUNT/|" -e "s|$literal|$NAMESPACES|" \
    "$here/volume-keys-kv$KV.hcl")"
  mint_token "$POLICY-$NAMESPACES" "$ROLE-$NAMESPACES"
fi
summary
