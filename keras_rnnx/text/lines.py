"""`iter_lines`: text lines from a path, a file object or an iterable."""
import io
import os


def iter_lines(source, name="corpus", errors="strict"):
    """Yields text lines (str) from a path, a file object or an iterable of str.

    Bytes that are not valid UTF-8 raise a `ValueError` naming the line (with
    `errors="strict"`) or are replaced by U+FFFD (`errors="replace"`).
    """
    if isinstance(source, (str, os.PathLike)) and (
        not isinstance(source, str) or ("\n" not in source and os.path.exists(source))
    ):
        path = os.fspath(source)
        if os.path.isdir(path):
            raise ValueError(f"{name} must be a text file, got the directory {path!r}")
        with open(path, "rb") as f:
            for i, raw in enumerate(f, 1):
                try:
                    yield raw.decode("utf-8", errors=errors).rstrip("\r\n")
                except UnicodeDecodeError as e:
                    raise ValueError(
                        f"{name} {path!r} line {i}: bytes that are not valid UTF-8 "
                        f"(at byte {e.start}: {raw[e.start:e.start + 4]!r})"
                    ) from None
        return
    if isinstance(source, str):
        raise ValueError(
            f"{name} must be a path to an existing text file or an iterable of strings; "
            f"{source[:80]!r} is not an existing file"
        )
    if isinstance(source, io.IOBase):
        source = iter(source)
    try:
        iterator = iter(source)
    except TypeError:
        raise TypeError(f"{name} must be a file path or an iterable of strings, got {type(source).__name__}") from None
    for i, line in enumerate(iterator, 1):
        if isinstance(line, bytes):
            try:
                line = line.decode("utf-8", errors=errors)
            except UnicodeDecodeError as e:
                raise ValueError(
                    f"{name} item {i}: bytes that are not valid UTF-8 "
                    f"(at byte {e.start}: {line[e.start:e.start + 4]!r})"
                ) from None
        elif isinstance(line, (list, tuple)):
            line = " ".join(line)
        elif not isinstance(line, str):
            raise TypeError(f"{name} item {i} must be str or bytes, got {type(line).__name__}")
        yield line.rstrip("\r\n")
