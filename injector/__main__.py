"""``python -m injector`` runs the same command as the ``vsi-injector`` console script."""

import sys

from injector.cli import main

sys.exit(main())
