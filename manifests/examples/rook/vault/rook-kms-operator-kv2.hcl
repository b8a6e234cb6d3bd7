# Policy of Rook itself in Vault-KMS mode (CephCluster security.kms, profile type rook-kms) on a
# KV v2 mount named "rook": the operator (service account rook-ceph-system) creates each OSD key,
# the prepare pods read it, and key rotation (rook-ceph-osd, security.keyRotation) overwrites it.
# Keys: rook-ceph-osd-encryption-key-<pvc>, one field of the same name.
#
# create, read, update. Rook writes with a plain get-then-put, without cas, so this mount must
# not have cas_required (a write without cas fails with 400 there); a rotation is an update and
# becomes a new KV v2 version. No delete: Rook's clean-up when the CephCluster is deleted then
# fails (it logs it and goes on) and the keys stay in Vault. Grant "delete" on
# rook/metadata/rook-ceph-osd-encryption-key-* if Rook should destroy them.
path "rook/data/rook-ceph-osd-encryption-key-*" {
  capabilities = ["create", "read", "update"]
}
# Rook finds the KV version here when security.kms has VAULT_SECRET_ENGINE: kv and no
# VAULT_BACKEND.
path "sys/mounts" {
  capabilities = ["read"]
}
