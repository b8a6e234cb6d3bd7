"""The ``vsi-webhook`` subcommands: flags in, one of the layers below called, an exit code out."""
