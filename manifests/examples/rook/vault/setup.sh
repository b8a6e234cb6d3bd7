#!/usr/bin/env bash
# The Vault (or OpenBao) side of the Rook example: a KV mount for the OSD keys, the injector's
# create-only policy, and either a Kubernetes auth role for the OSD pods' service account or a
# token.
#
#   VAULT_ADDR=https://vault.example.com:8200 VAULT_TOKEN=<admin token> ./setup.sh kubernetes
#   VAULT_ADDR=... VAULT_TOKEN=... ./setup.sh token      # prints a token for VAULT_TOKEN
#   ./setup.sh --dry-run kubernetes                        # what it would change; changes nothing
#
# It looks before it acts and never writes a secret. An existing mount is kept as it is, and its
# KV version decides the policy: v1 when it was made as Rook's own document makes it
# (`vault secrets enable -path=rook kv`), v2 otherwise. Only on a v2 mount this script creates
# is cas_required turned on (the injector writes with cas=0 only); never when Rook's own KMS
# writes to the mount, since Rook writes without cas. Run it again: it reports "no changes".
#
# Settings (environment): VAULT, the CLI: vault or bao (vault); MOUNT (rook); KV_VERSION of a new
# mount, 1 or 2 (2); ROOK_KMS (false): true when the CephCluster's security.kms uses this mount
# too, so Rook writes keys there itself (cas_required is then turned off); NAMESPACE, the Rook
# cluster namespace (rook-ceph); SERVICE_ACCOUNT (rook-ceph-osd); AUTH_MOUNT (kubernetes); ROLE
# and POLICY (rook-ceph-osd); KUBERNETES_HOST, KUBERNETES_CA_CERT, TOKEN_REVIEWER_JWT, ISSUER for
# the kubernetes auth config (a Vault outside the cluster: docs/install.md; see
# ../../lib/vault-setup.sh). Progress goes to stderr; with `token`, stdout is the token alone.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../../lib/vault-setup.sh
. "$here/../../lib/vault-setup.sh"
setup_args "$@"

VAULT="${VAULT:-vault}"
MOUNT="${MOUNT:-rook}"
KV_VERSION="${KV_VERSION:-2}"
ROOK_KMS="${ROOK_KMS:-false}"
NAMESPACE="${NAMESPACE:-rook-ceph}"
SERVICE_ACCOUNT="${SERVICE_ACCOUNT:-rook-ceph-osd}"
AUTH_MOUNT="${AUTH_MOUNT:-kubernetes}"
ROLE="${ROLE:-rook-ceph-osd}"
POLICY="${POLICY:-rook-ceph-osd}"

case "$KV_VERSION" in 1 | 2) ;; *) say "KV_VERSION must be 1 or 2, not '$KV_VERSION'"; exit 2 ;; esac
case "$ROOK_KMS" in true | false) ;; *) say "ROOK_KMS must be true or false"; exit 2 ;; esac

kv_mount "$MOUNT" "$KV_VERSION"
if [ "$ROOK_KMS" = true ]; then
  cas_required "$MOUNT" false
elif "$MOUNT_CREATED"; then
  cas_required "$MOUNT" true
else
  cas_note "$MOUNT" "Rook's own KMS (security.kms) writes without cas; set ROOK_KMS=true if it uses this mount"
fi

# The policy files name the mount "rook"; use the chosen one.
policy "$POLICY" "$(sed "s|\"rook/|\"$MOUNT/|" "$here/rook-osd-kv$KV.hcl")"

if [ "$AUTH" = kubernetes ]; then
  kubernetes_auth "$AUTH_MOUNT"
  # Only the OSD pods of this namespace; their tokens are short-lived, one per init container run.
  role "$AUTH_MOUNT" "$ROLE" "$SERVICE_ACCOUNT" "$NAMESPACE" "$POLICY" 900 3600
else
  # Put it in the rook-vault Secret as VAULT_TOKEN, with VAULT_AUTH_METHOD: token.
  mint_token "$POLICY" "$ROLE"
fi
summary
