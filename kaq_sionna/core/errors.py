"""Errors shared across the library (scenario and parameter errors are in :mod:`.params`)."""


class PretrainedMismatch(ValueError):
    """A stored model does not match the model it is loaded into (or its own config)."""
