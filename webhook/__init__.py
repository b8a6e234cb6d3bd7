"""The vault-storage-injector admission webhook: Vault settings, TLS material and the key-injector
init container added to storage DaemonSets, Portworx pods, StorageClusters and Rook OSD pods."""
