#!/usr/bin/env bash
# The Vault (or OpenBao) side of the Portworx example: a KV mount for the volume keys, the
# Portworx policy, and either a Kubernetes auth role for the Portworx service account or a token.
#
#   VAULT_ADDR=https://vault.example.com:8200 VAULT_TOKEN=<admin token> ./setup.sh kubernetes
#   PX_INSTALL=daemonset ./setup.sh kubernetes             # the DaemonSet install (kube-system)
#   VAULT_ADDR=... VAULT_TOKEN=... ./setup.sh token        # prints a token for VAULT_TOKEN
#   ./setup.sh --dry-run kubernetes                        # what it would change; changes nothing
#
# It looks before it acts and never writes a secret: an existing mount is kept as it is, and its
# KV version decides the policy. Portworx writes its keys without cas, so cas_required is never
# turned on. Run it again: it reports "no changes".
#
# Settings (environment): VAULT, the CLI: vault or bao (vault); MOUNT (portworx); KV_VERSION of a
# new mount, 1 or 2 (2); PX_INSTALL, how Portworx was installed: operator (service account
# portworx in namespace portworx) or daemonset (px-account in kube-system, the Portworx
# manual's DaemonSet install); NAMESPACE and SERVICE_ACCOUNT override those (check yours with
#   kubectl -n <ns> get pods -l name=portworx -o jsonpath='{.items[0].spec.serviceAccountName}');
# AUTH_MOUNT (kubernetes); ROLE and POLICY (portworx); KUBERNETES_HOST, KUBERNETES_CA_CERT,
# TOKEN_REVIEWER_JWT, ISSUER for the kubernetes auth config (a Vault outside the cluster:
# docs/install.md; see ../../lib/vault-setup.sh). Progress goes to stderr; with `token`, stdout
# is the token alone.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../../lib/vault-setup.sh
. "$here/../../lib/vault-setup.sh"
setup_args "$@"

VAULT="${VAULT:-vault}"
MOUNT="${MOUNT:-portworx}"
KV_VERSION="${KV_VERSION:-2}"
PX_INSTALL="${PX_INSTALL:-operator}"
case "$PX_INSTALL" in
  operator) NAMESPACE="${NAMESPACE:-portworx}" SERVICE_ACCOUNT="${SERVICE_ACCOUNT:-portworx}" ;;
  daemonset) NAMESPACE="${NAMESPACE:-kube-system}" SERVICE_ACCOUNT="${SERVICE_ACCOUNT:-px-account}" ;;
  *) say "PX_INSTALL must be operator or daemonset, not '$PX_INSTALL'"; exit 2 ;;
esac
AUTH_MOUNT="${AUTH_MOUNT:-kubernetes}"
ROLE="${ROLE:-portworx}"
POLICY="${POLICY:-portworx}"

case "$KV_VERSION" in 1 | 2) ;; *) say "KV_VERSION must be 1 or 2, not '$KV_VERSION'"; exit 2 ;; esac

kv_mount "$MOUNT" "$KV_VERSION"
cas_note "$MOUNT" "Portworx writes without cas and will fail"

# The policy files name the mount "portworx"; use the chosen one.
policy "$POLICY" "$(sed "s|\"portworx/|\"$MOUNT/|" "$here/portworx-kv$KV.hcl")"

if [ "$AUTH" = kubernetes ]; then
  kubernetes_auth "$AUTH_MOUNT"
  # Only the Portworx pods of this namespace.
  role "$AUTH_MOUNT" "$ROLE" "$SERVICE_ACCOUNT" "$NAMESPACE" "$POLICY" 3600 86400
else
  # Put it in px-vault as VAULT_TOKEN.
  mint_token "$POLICY" "$ROLE"
fi
summary
