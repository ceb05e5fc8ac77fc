"""Progress output for training, suited to where it goes.

On a terminal (the stream is a tty) training shows a tqdm bar per epoch on
stderr, left in place when the epoch ends with its final metrics. Piped to a
file, a log or CI it writes one plain line per epoch and no carriage
returns: `epoch 3/30: loss 0.4123, accuracy 0.8800, val_macro_f1 0.8012 (12.1 s)`.
`error` prints a message on a line of its own, below a live bar.

Every `rnnx` command that trains (`train-classifier`, `demo`, `generate`)
passes `EpochProgress` to `fit` instead of Keras' progress bar; `word2vec`
shows its bar only on a terminal (`interactive`).
"""
import sys
import time

import keras

__all__ = ["interactive", "epoch_line", "error", "EpochProgress"]


def interactive(stream=None):
    """Whether `stream` (default `sys.stderr`) is a terminal."""
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


def _number(value):
    value = float(value)
    return f"{value:.4g}" if abs(value) < 1e-3 and value else f"{value:.4f}"


def epoch_line(epoch, epochs, logs, seconds=None):
    """One line for a finished epoch (1-based `epoch` of `epochs`).

    Example:

    >>> epoch_line(3, 30, {"loss": 0.41234, "accuracy": 0.88}, 12.06)
    'epoch 3/30: loss 0.4123, accuracy 0.8800 (12.1 s)'
    """
    parts = []
    for key, value in (logs or {}).items():
        try:
            parts.append(f"{key} {_number(value)}")
        except (TypeError, ValueError):
            continue
    text = f"epoch {epoch}/{epochs}: " + ", ".join(parts)
    if seconds is not None:
        text += f" ({seconds:.1f} s)"
    return text


def _live_bars():
    tqdm = sys.modules.get("tqdm")
    if tqdm is None:
        return False
    return bool(getattr(tqdm.tqdm, "_instances", None))


def error(message, stream=None):
    """Writes `message` on a line of its own to `stream` (default stderr).

    Standard output is flushed first; a live tqdm bar is cleared, the
    message printed and the bar drawn again below it (`tqdm.write`), so the
    message never lands on the bar's line.
    """
    stream = sys.stderr if stream is None else stream
    sys.stdout.flush()
    text = str(message).rstrip("\n")
    if _live_bars():
        from tqdm import tqdm

        tqdm.write(text, file=stream)
    else:
        stream.write(text + "\n")
    stream.flush()


class EpochProgress(keras.callbacks.Callback):
    """Keras callback: a bar per epoch on a terminal, one line per epoch otherwise.

    Use it with `fit(..., verbose=0)`. The epoch's line shows every number in
    the logs (those of callbacks placed before it too, such as the
    `val_*` scores of `keras_rnnx.training.BestEpoch`).

    Args:
        stream: where to write (default `sys.stderr` for the bar, `sys.stdout`
            for the lines).
        bar: True: a tqdm bar; False: plain lines; None: a bar only when
            `stream` is a terminal.

    Example:

    >>> import io, numpy as np
    >>> out = io.StringIO()
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile("sgd", "mse")
    >>> _ = model.fit(np.ones((4, 2)), np.zeros((4, 1)), epochs=2, verbose=0,
    ...               callbacks=[EpochProgress(stream=out)])
    >>> out.getvalue().count("\\n"), "\\r" in out.getvalue()
    (2, False)
    """

    def __init__(self, stream=None, bar=None):
        super().__init__()
        self.bar = interactive(stream if stream is not None else sys.stderr) if bar is None else bool(bar)
        self.stream = stream if stream is not None else (sys.stderr if self.bar else sys.stdout)
        self._tqdm = None
        self._epochs = None
        self._t0 = None

    def on_train_begin(self, logs=None):
        self._epochs = self.params.get("epochs")

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.perf_counter()
        if self.bar:
            from tqdm import tqdm

            self._tqdm = tqdm(total=self.params.get("steps"), desc=f"epoch {epoch + 1}/{self._epochs}",
                              unit="batch", file=self.stream, leave=True, dynamic_ncols=True)

    def on_train_batch_end(self, batch, logs=None):
        if self._tqdm is not None:
            self._tqdm.update(1)
            if logs and batch % 10 == 0:
                shown = {}
                for k, v in logs.items():
                    try:
                        shown[k] = _number(v)
                    except (TypeError, ValueError):
                        continue
                self._tqdm.set_postfix(shown, refresh=False)

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._t0 if self._t0 is not None else None
        if self._tqdm is not None:
            self._tqdm.set_postfix_str(epoch_line(epoch + 1, self._epochs, logs, seconds).split(": ", 1)[1])
            self._tqdm.close()
            self._tqdm = None
            return
        self.stream.write(epoch_line(epoch + 1, self._epochs, logs, seconds) + "\n")
        self.stream.flush()

    def on_train_end(self, logs=None):
        if self._tqdm is not None:
            self._tqdm.close()
            self._tqdm = None
