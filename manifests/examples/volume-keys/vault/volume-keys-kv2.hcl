# Policy of vsi-injector for the volume-keys profile on a KV v2 mount named "secret" (setup.sh
# renames the mount and puts the kubernetes auth mount's accessor in place of ACCESSOR).
# Keys: vault-storage-injector/<namespace>/<pvc> (the default key path template).
#
# Per-namespace isolation that Vault enforces: the path is templated on the namespace of the
# service account that logged in (its entity alias metadata, set by kubernetes auth), so a token
# of namespace A can create and read only A's keys, whatever --namespace the injector is given.
# Needs {namespace} as the first element after vault-storage-injector/ in the key path template.
#
# Create-only: "create" and "read", no "update". The injector creates a key only with cas=0;
# Vault asks for "update" on any write to a key that exists, so no write through this token can
# replace a key.
path "secret/data/vault-storage-injector/{{identity.entity.aliases.ACCESSOR.metadata.service_account_namespace}}/*" {
  capabilities = ["create", "read"]
}
