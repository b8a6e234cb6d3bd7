# Policy of vsi-injector for the volume-keys profile on a KV v1 mount named "secret" (setup.sh
# renames the mount and puts the kubernetes auth mount's accessor in place of ACCESSOR).
# Keys: vault-storage-injector/<namespace>/<pvc> (the default key path template).
#
# Per-namespace isolation that Vault enforces: the path is templated on the namespace of the
# service account that logged in, so a token of namespace A reaches only A's keys.
#
# Create-only: "create" and "read" but no "update". KV v1 has no check-and-set, and with this
# policy Vault refuses a second write to an existing key, so a key can never be replaced.
path "secret/vault-storage-injector/{{identity.entity.aliases.ACCESSOR.metadata.service_account_namespace}}/*" {
  capabilities = ["create", "read"]
}
