"""`python -m certs` is `vsi-certs`."""

from certs.cli import main

raise SystemExit(main())
