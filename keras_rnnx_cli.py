"""Entry point of the `rnnx` console script (`python -m keras_rnnx_cli` too):
`keras_rnnx.cli.main` with the package's own imports deferred until the
arguments have parsed.

`import keras_rnnx` imports Keras and TensorFlow, because it registers every
layer with Keras' serialization (a `.keras` file loads after it with no
`custom_objects`), and importing any `keras_rnnx.<module>` runs it first: 4 s
before `rnnx --help` could answer. This module lives outside the package so
that it can put `keras_rnnx` in sys.modules uninitialised (its submodules
import from it; its `__init__` has not run), let `keras_rnnx.cli` parse the
arguments with the light `keras_rnnx.commands` modules, and run the
package's `__init__` only once a command is about to run. The package itself
is unchanged: any other `import keras_rnnx` is the whole, eager import.
"""
import importlib.util
import sys


def main(argv=None):
    """Runs `rnnx` on `argv` (default: sys.argv[1:]); returns the exit code."""
    if "keras_rnnx" in sys.modules:  # imported already: nothing to defer
        from keras_rnnx import cli

        return cli.main(argv)
    spec = importlib.util.find_spec("keras_rnnx")
    if spec is None:
        raise ModuleNotFoundError("No module named 'keras_rnnx'", name="keras_rnnx")
    package = importlib.util.module_from_spec(spec)
    sys.modules["keras_rnnx"] = package
    initialised = []

    def load_package():
        spec.loader.exec_module(package)
        initialised.append(True)

    try:
        from keras_rnnx import cli

        return cli.main(argv, load_package=load_package)
    finally:
        if not initialised:  # help, version, argument errors, or __init__ failed:
            # no half-imported package stays behind for a later `import keras_rnnx`
            for name in [n for n in sys.modules
                         if n == "keras_rnnx" or n.startswith("keras_rnnx.")]:
                del sys.modules[name]


if __name__ == "__main__":
    sys.exit(main())
