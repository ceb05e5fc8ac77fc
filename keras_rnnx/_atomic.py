"""Atomic writes for exporters: write beside the target, then move into place."""
import atexit
import contextlib
import os
import shutil
import tempfile


class ExportError(ValueError):
    """An export could not be written; nothing at the target path changed."""


def _umask():
    """The process umask, read without changing it where Linux allows."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def umask_mode(path):
    """Gives the file `path` (made by `mkstemp`, which uses 0600) the mode a
    plain `open(path, "w")` would have: 0666 less the umask. Every file the
    package writes through a temporary file goes through here."""
    os.chmod(path, 0o666 & ~_umask())


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
        umask_mode(tmp)
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


def _alive(pid):
    """Whether a process with id `pid` exists (ours or another user's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return True
    return True


def remove_stale_folders(prefix, parent=None):
    """Removes `<parent>/<prefix><pid>_*` folders whose process `pid` is gone
    (left by runs killed with SIGKILL, which no `finally` or `atexit` sees).
    Only folders of this user are touched; returns the removed paths."""
    parent = parent or tempfile.gettempdir()
    removed = []
    try:
        names = os.listdir(parent)
    except OSError:
        return removed
    for name in names:
        if not name.startswith(prefix):
            continue
        pid = name[len(prefix):].split("_", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)):
            continue
        path = os.path.join(parent, name)
        try:
            if os.path.isdir(path) and not os.path.islink(path) and (
                    os.stat(path).st_uid == os.getuid()):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
        except OSError:
            pass
    return removed


_pending = set()


@atexit.register
def _remove_pending():
    for path in list(_pending):
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def temporary_folder(prefix):
    """A scratch folder in the system temp folder, `<prefix><pid>_<random>`:
    removed when the block ends, at interpreter exit if the block never ends
    (an exception escaping a thread, `os._exit` aside), and, after a SIGKILL,
    by the next call with the same prefix (`remove_stale_folders`)."""
    remove_stale_folders(prefix)
    path = tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}_")
    _pending.add(path)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        _pending.discard(path)
