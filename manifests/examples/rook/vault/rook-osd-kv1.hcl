# Policy of the OSD key injector on a KV v1 mount named "rook" (setup.sh renames the mount).
# Keys: rook-ceph-osd-encryption-key-<pvc>, the names Rook itself uses.
#
# Create-only: "create" and "read" but no "update". KV v1 has no check-and-set, and with this
# policy Vault (and OpenBao) refuses a second write to an existing key, so a key can never be
# replaced through this token. Use it for every KV v1 installation.
path "rook/rook-ceph-osd-encryption-key-*" {
  capabilities = ["create", "read"]
}
