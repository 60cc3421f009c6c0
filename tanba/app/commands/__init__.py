"""The ``tanba`` command's sub-commands, one module per group; each has ``register(sub)``."""
