"""Atomic writes for exporters: write beside the target, then move into place."""
import contextlib
import os
import shutil
import tempfile


class ExportError(ValueError):
    """An export could not be written; nothing at the target path changed."""


def atomic_write(path, data, mode=None, encoding="utf-8"):
    """Writes `data` to `path` atomically: a temporary file beside it, flushed
    to disk, then `os.replace`. `mode` is "w" or "wb" (default: "wb" for
    bytes, "w" for str). On any error the temporary file is removed and
    `path` is left as it was."""
    path = os.fspath(path)
    if mode is None:
        mode = "wb" if isinstance(data, (bytes, bytearray)) else "w"
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        if "b" in mode:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        else:
            with os.fdopen(fd, "w", encoding=encoding, newline="\n") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def check_target(path, overwrite, argument="path"):
    """Validates an output path; returns it absolute. Raises `ExportError`."""
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise ExportError(f"{argument}: expected a file system path, got {path!r}")
    path = os.path.abspath(os.fspath(path))
    parent = os.path.dirname(path)
    if os.path.lexists(path) and not overwrite:
        raise ExportError(
            f"{argument}: {path!r} already exists; pass overwrite=True "
            "(--overwrite on the command line) to replace it"
        )
    probe = parent
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe) or not os.access(probe, os.W_OK | os.X_OK):
        raise ExportError(f"{argument}: cannot write to {parent!r} (not a writable folder)")
    return path


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)


@contextlib.contextmanager
def atomic_target(path, overwrite=False, directory=False, argument="path"):
    """Yields a temporary path beside `path`; moves it to `path` on success.

    On any exception the temporary path is removed and whatever was at
    `path` before is left untouched. With `overwrite=True` an existing file or
    folder at `path` is replaced only once the new one is complete.
    """
    path = check_target(path, overwrite, argument)
    parent = os.path.dirname(path)
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as e:
        raise ExportError(f"{argument}: cannot create folder {parent!r}: {e}") from e
    base = os.path.basename(path)
    tmp = tempfile.mkdtemp(prefix=f".{base}.", suffix=".partial", dir=parent)
    target = tmp if directory else os.path.join(tmp, base)
    if directory:
        os.rmdir(tmp)  # the writer creates the folder itself
    try:
        yield target
        if not os.path.lexists(target):
            raise ExportError(f"{argument}: the exporter wrote nothing to {target!r}")
        _commit(target, path, overwrite, argument)
    finally:
        _remove(tmp)


def _commit(tmp, path, overwrite, argument):
    if not os.path.lexists(path):
        os.replace(tmp, path)
        return
    if not overwrite:  # appeared while we were writing
        raise ExportError(f"{argument}: {path!r} appeared during the export; not replaced")
    if os.path.isdir(path) != os.path.isdir(tmp) or os.path.isdir(path):
        # Folders cannot be replaced in one rename: move the old one aside
        # first and put it back if the second rename fails.
        trash = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.", suffix=".old",
                                 dir=os.path.dirname(path))
        old = os.path.join(trash, "old")
        os.replace(path, old)
        try:
            os.replace(tmp, path)
        except BaseException:
            os.replace(old, path)
            raise
        finally:
            _remove(trash)
    else:
        os.replace(tmp, path)


def write_bytes(path, data, overwrite=False, argument="path"):
    """Writes `data` to `path` atomically."""
    with atomic_target(path, overwrite=overwrite, argument=argument) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
