# Policy of the OSD pods' key injector in Rook's Vault-KMS mode (profile type rook-kms) on a KV v1
# mount named "rook": read only, Rook's operator creates the keys.
path "rook/rook-ceph-osd-encryption-key-*" {
  capabilities = ["read"]
}
