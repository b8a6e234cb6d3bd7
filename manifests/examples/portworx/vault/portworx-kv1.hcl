# Policy of Portworx on a KV v1 mount named "portworx" (setup.sh renames the mount), following the
# Portworx documentation. Portworx creates, reads and deletes its own volume keys, so it needs the
# full set of capabilities on its mount.
path "portworx/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}

# Portworx reads the mount table to find the KV version of its mount.
path "sys/mounts" {
  capabilities = ["read"]
}
path "sys/mounts/*" {
  capabilities = ["read", "list"]
}
