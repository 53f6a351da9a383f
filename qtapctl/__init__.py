"""qtapctl: offline checks and reviews of the qtap-gitops Pulumi project."""

import time

# When this command started, before its slower imports: a snapshot changed after this moment was
# changed by someone else while the command ran (see importer.py).
STARTED_NS = time.time_ns()
