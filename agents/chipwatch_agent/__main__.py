"""`python -m chipwatch_agent` is the `chipwatch-agent` command."""
import sys

from .cli import main

sys.exit(main())
