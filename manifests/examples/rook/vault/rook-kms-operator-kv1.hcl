# Policy of Rook itself in Vault-KMS mode (CephCluster security.kms, profile type rook-kms) on a
# KV v1 mount named "rook" (the mount Rook's KMS document makes: `vault secrets enable -path=rook
# kv`): the operator creates each OSD key, the prepare pods read it, key rotation overwrites it.
#
# create, read, update: Rook writes without cas (KV v1 has none); a rotation replaces the value.
# No delete: the keys stay when the CephCluster is deleted (Rook logs that it could not delete
# them); add "delete" if Rook should remove them.
path "rook/rook-ceph-osd-encryption-key-*" {
  capabilities = ["create", "read", "update"]
}
path "sys/mounts" {
  capabilities = ["read"]
}
