"""``python -m bot`` runs the ``dumpin`` command."""

import sys

from bot.cli import main

sys.exit(main())
