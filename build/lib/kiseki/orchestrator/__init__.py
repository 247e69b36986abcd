"""The orchestrator: decides what to evaluate, deploys endpoints, fans out jobs, tears down."""
