"""qtapctl: offline checks and reviews of the qtap-gitops Pulumi project."""

from __future__ import annotations

import sys

from . import STARTED_NS
from .cli import main

sys.exit(main(started_ns=STARTED_NS))
