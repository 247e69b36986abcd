"""The one error of a malformed policy (its own module: policy.py and its sections raise it)."""


class PolicyError(ValueError):
    """The policy file is malformed; the message names the file and the key."""
