"""`python -m twinstar_gui` = the `twinstar` command."""
import sys

from .cli import main

sys.exit(main())
