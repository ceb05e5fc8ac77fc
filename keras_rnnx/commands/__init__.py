"""Subcommands of the `rnnx` command line; see `keras_rnnx.cli`.

A command module imports nothing heavy at module level (TensorFlow, Keras,
the package's layers): `rnnx --help` imports every one of them, and
tests/test_cli_startup.py checks that help and argument errors never
import TensorFlow."""
