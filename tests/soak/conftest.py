"""The soak run takes minutes (short form) to hours (long form): only `make soak` (or
KISEKI_SOAK_FORM=short by hand) collects it, never `make test`."""

import os

collect_ignore = [] if os.environ.get("KISEKI_SOAK_FORM") else ["test_soak_run.py"]
