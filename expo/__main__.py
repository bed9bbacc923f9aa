"""``python -m expo`` is the ``expo`` command."""

import sys

from expo.cli import main

sys.exit(main())
