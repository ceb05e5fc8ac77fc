"""The package version, in a module that imports nothing (read by setup.cfg
and by `rnnx --version` before the package's heavy imports)."""
__version__ = "0.2.0"
