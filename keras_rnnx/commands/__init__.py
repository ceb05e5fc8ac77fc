"""Subcommands of the `rnnx` command line; see `keras_rnnx.cli`."""
