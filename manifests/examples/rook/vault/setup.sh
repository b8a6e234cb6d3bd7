#!/usr/bin/env bash
# The Vault (or OpenBao) side of the Rook example: a KV mount for the OSD keys, the policies, and
# either Kubernetes auth roles for the service accounts or a token.
#
#   VAULT_ADDR=https://vault.example.com:8200 VAULT_TOKEN=<admin token> ./setup.sh kubernetes
#   VAULT_ADDR=... VAULT_TOKEN=... ./setup.sh token      # prints a token for VAULT_TOKEN
#   ./setup.sh --dry-run kubernetes                        # what it would change; changes nothing
#
# Two modes. Default (profile rook-osd: Rook keeps its keys in Secrets, the injector seeds them
# into Vault): the injector's create-only policy and one role for the OSD pods. ROOK_KMS=true
# (profile rook-kms: the CephCluster's security.kms makes Rook write its keys to this mount):
# Rook's own policy (create, read, update) with a role for its operator and OSD service accounts,
# and the injector's read-only policy with a role of its own (docs/install.md, "Rook-Ceph in
# Vault-KMS mode").
#
# It looks before it acts and never writes a secret. An existing mount is kept as it is, and its
# KV version decides the policies: v1 when it was made as Rook's own document makes it
# (`vault secrets enable -path=rook kv`), v2 otherwise. Only on a v2 mount this script creates
# is cas_required turned on (the injector writes with cas=0 only); never when Rook's own KMS
# writes to the mount, since Rook writes without cas. Run it again: it reports "no changes".
#
# Settings (environment): VAULT, the CLI: vault or bao (vault); MOUNT (rook); KV_VERSION of a new
# mount, 1 or 2 (2); ROOK_KMS (false); NAMESPACE, the Rook cluster namespace (rook-ceph);
# SERVICE_ACCOUNT of the OSD pods (rook-ceph-osd); AUTH_MOUNT (kubernetes); ROLE and POLICY of
# the injector (rook-ceph-osd; with ROOK_KMS=true rook-ceph-osd-injector and rook-kms-osd);
# AUDIENCE, the token audience the injector's role requires (vault: connection.tokenAudience).
# With ROOK_KMS=true also: OPERATOR_ROLE (rook-ceph: the CephCluster's
# VAULT_AUTH_KUBERNETES_ROLE), OPERATOR_POLICY (rook-kms-operator), OPERATOR_SERVICE_ACCOUNTS
# (rook-ceph-system,rook-ceph-osd: the operator, and the key-rotation pods), OPERATOR_NAMESPACE
# (NAMESPACE; the operator's when it runs in another), and for `token` TOKEN_FOR: injector (for
# the profile's tokenSecretName) or rook (the CephCluster's) (injector). KUBERNETES_HOST,
# KUBERNETES_CA_CERT, TOKEN_REVIEWER_JWT, ISSUER for the kubernetes auth config (a Vault outside
# the cluster: docs/install.md; see ../../lib/vault-setup.sh). Progress goes to stderr; with
# `token`, stdout is the token alone.
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
AUDIENCE="${AUDIENCE:-vault}"
case "$ROOK_KMS" in true | false) ;; *) say "ROOK_KMS must be true or false"; exit 2 ;; esac
if [ "$ROOK_KMS" = true ]; then
  ROLE="${ROLE:-rook-ceph-osd-injector}"
  POLICY="${POLICY:-rook-kms-osd}"
  OPERATOR_ROLE="${OPERATOR_ROLE:-rook-ceph}"
  OPERATOR_POLICY="${OPERATOR_POLICY:-rook-kms-operator}"
  OPERATOR_SERVICE_ACCOUNTS="${OPERATOR_SERVICE_ACCOUNTS:-rook-ceph-system,rook-ceph-osd}"
  OPERATOR_NAMESPACE="${OPERATOR_NAMESPACE:-$NAMESPACE}"
  TOKEN_FOR="${TOKEN_FOR:-injector}"
  case "$TOKEN_FOR" in injector | rook) ;; *) say "TOKEN_FOR must be injector or rook"; exit 2 ;; esac
else
  ROLE="${ROLE:-rook-ceph-osd}"
  POLICY="${POLICY:-rook-ceph-osd}"
fi

case "$KV_VERSION" in 1 | 2) ;; *) say "KV_VERSION must be 1 or 2, not '$KV_VERSION'"; exit 2 ;; esac

kv_mount "$MOUNT" "$KV_VERSION"
if [ "$ROOK_KMS" = true ]; then
  cas_required "$MOUNT" false
elif "$MOUNT_CREATED"; then
  cas_required "$MOUNT" true
else
  cas_note "$MOUNT" "Rook's own KMS (security.kms) writes without cas; set ROOK_KMS=true if it uses this mount"
fi

# The policy files name the mount "rook"; use the chosen one.
mount_policy() { policy "$1" "$(sed "s|\"rook/|\"$MOUNT/|" "$here/$2-kv$KV.hcl")"; }
if [ "$ROOK_KMS" = true ]; then
  mount_policy "$OPERATOR_POLICY" rook-kms-operator
  mount_policy "$POLICY" rook-kms-osd
else
  mount_policy "$POLICY" rook-osd
fi

if [ "$AUTH" = kubernetes ]; then
  kubernetes_auth "$AUTH_MOUNT"
  if [ "$ROOK_KMS" = true ]; then
    # Rook's operator and its key-rotation pods; tokens of the mount's default lifetime.
    namespaces="$OPERATOR_NAMESPACE"
    [ "$OPERATOR_NAMESPACE" = "$NAMESPACE" ] || namespaces="$OPERATOR_NAMESPACE,$NAMESPACE"
    role "$AUTH_MOUNT" "$OPERATOR_ROLE" "$OPERATOR_SERVICE_ACCOUNTS" "$namespaces" \
      "$OPERATOR_POLICY" 0 0
  fi
  # Only the OSD pods of this namespace; their tokens are short-lived, one per init container run.
  # The injector logs in with its own projected token for AUDIENCE (the profile's
  # connection.tokenAudience); Rook's own role above stays as Rook documents it.
  role "$AUTH_MOUNT" "$ROLE" "$SERVICE_ACCOUNT" "$NAMESPACE" "$POLICY" 900 3600 "$AUDIENCE"
elif [ "$ROOK_KMS" = true ] && [ "$TOKEN_FOR" = rook ]; then
  # Rook's: the Secret the CephCluster's security.kms.tokenSecretName names, as VAULT_TOKEN.
  mint_token "$OPERATOR_POLICY" "$OPERATOR_ROLE"
else
  # Default mode: the rook-vault Secret's VAULT_TOKEN (VAULT_AUTH_METHOD: token). ROOK_KMS=true:
  # the Secret the profile's kms.tokenSecretName names; Rook's own comes with TOKEN_FOR=rook.
  mint_token "$POLICY" "$ROLE"
fi
summary
