# Policy of the OSD key injector on a KV v2 mount named "rook" (setup.sh renames the mount).
# Keys: rook-ceph-osd-encryption-key-<pvc>, the names Rook itself uses.
#
# The injector creates a key only with cas=0, so it never replaces one. "update" is still
# needed: without it, the second of two injectors racing on a new key gets "permission denied"
# instead of a check-and-set conflict, and fails instead of re-reading the winner's key (checked
# against OpenBao). setup.sh sets cas_required on the mount, so no write without cas (a hand-run
# `kv put`, another tool with this token) can replace a key either.
path "rook/data/rook-ceph-osd-encryption-key-*" {
  capabilities = ["create", "read", "update"]
}

# A deleted or destroyed key version is reported as such, never silently re-created.
path "rook/metadata/rook-ceph-osd-encryption-key-*" {
  capabilities = ["read"]
}
