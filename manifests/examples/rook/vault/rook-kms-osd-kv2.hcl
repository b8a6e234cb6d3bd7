# Policy of the OSD pods' key injector in Rook's Vault-KMS mode (profile type rook-kms) on a KV v2
# mount named "rook". In KMS mode Rook's operator creates the keys; the injector only reads the
# latest version of the OSD's key (the one Rook's key rotation wrote last) and fails closed when
# there is none. Read only: no write through this token can create or replace a key. The injector
# finds the KV version with this capability alone (sys/internal/ui/mounts).
path "rook/data/rook-ceph-osd-encryption-key-*" {
  capabilities = ["read"]
}
