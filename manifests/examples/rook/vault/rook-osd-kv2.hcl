# Policy of the OSD key injector on a KV v2 mount named "rook" (setup.sh renames the mount).
# Keys: rook-ceph-osd-encryption-key-<pvc>, the names Rook itself uses.
#
# Create-only: "create" and "read", no "update". The injector creates a key only with cas=0
# and reads it; Vault asks for "update" on any write to a key that exists, so with this policy
# no write through this token can replace a key, with or without cas. The second of two
# injectors racing on a new key gets 403 instead of a check-and-set conflict, re-reads, and
# uses the first one's key (tests/integration/manifests/test_vault_setup.py races eight of
# them against OpenBao). A soft-deleted or destroyed key is still reported as such: the
# data read returns its metadata.
path "rook/data/rook-ceph-osd-encryption-key-*" {
  capabilities = ["create", "read"]
}
