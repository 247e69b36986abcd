"""The soak runs take minutes (short form) to hours (long form): only `make soak` (or
KISEKI_SOAK_FORM=short by hand) collects it, never `make test`."""

import os

_RUNS = ["test_soak_run.py", "test_sink_soak.py"]
collect_ignore = [] if os.environ.get("KISEKI_SOAK_FORM") else _RUNS
