"""`python -m webhook` is `vsi-webhook`."""

from webhook.cli import main

raise SystemExit(main())
