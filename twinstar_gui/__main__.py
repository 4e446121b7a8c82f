"""`python -m twinstar_gui` = the `twinstar` command."""
import sys

from .entry import main

sys.exit(main())
