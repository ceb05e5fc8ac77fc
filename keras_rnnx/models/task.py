"""`Task`: what the task models (`Translator`, `LanguageModel`) share.

A task model is a `keras.Model` subclass whose `__init__` creates its layers,
wires them with the functional API and hands inputs and outputs to
`super().__init__` (as keras-hub's task models do), so the model is the one
description of the network and Keras' `fit`/`evaluate`/`predict`,
`.keras` saving and the exporters take it as it is. This base adds the
parts that are the same for every task: a default `compile()` (run by the
subclass's `__init__`, so `fit` works without one), reloading that
compilation from a `.keras` file, an atomic `save` that refuses an existing
file, and `from_config` from the constructor's arguments.
"""
import keras

from keras_rnnx.training import save_model


class Task(keras.Model):
    """Base of the task models: default compilation, atomic `.keras` save.

    A subclass builds its functional graph in `__init__`, calls
    `super().__init__(inputs, outputs, name=...)`, then `self.compile()`;
    it defines `get_config` (its constructor's arguments, vocabularies as
    `Vocabulary.get_config()` dicts) and the defaults below.

    Args:
        *args, **kwargs: `keras.Model`'s (the functional inputs, outputs,
            `name`).

    Example:

    >>> from keras_rnnx.models import LanguageModel
    >>> lm = LanguageModel(9, embedding_dim=4, units=4)
    >>> isinstance(lm, Task), lm.optimizer.clipnorm   # compiled by default
    (True, 1.0)
    """

    def default_loss(self):
        """The loss `compile(loss="auto")` uses."""
        raise NotImplementedError

    def default_metrics(self):
        """The metrics `compile(metrics="auto")` uses (a list, may be empty)."""
        return []

    def compile(self, optimizer="auto", loss="auto", *, metrics="auto", learning_rate=3e-3,
                **kwargs):
        """Keras' `compile` with the task's defaults.

        Args:
            optimizer: "auto" (Adam with `learning_rate` and clipnorm 1) or
                any Keras optimizer.
            loss: "auto" (`default_loss()`) or any Keras loss.
            metrics: "auto" (`default_metrics()`) or Keras metrics.
            learning_rate: the "auto" optimizer's rate (a float or a
                `keras.optimizers.schedules` schedule).
            **kwargs: other `keras.Model.compile` arguments.
        """
        if isinstance(optimizer, str) and optimizer == "auto":
            optimizer = keras.optimizers.Adam(learning_rate, clipnorm=1.0)
        if isinstance(loss, str) and loss == "auto":
            loss = self.default_loss()
        if isinstance(metrics, str) and metrics == "auto":
            metrics = self.default_metrics()
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def compile_from_config(self, config):
        """Compiles with the arguments `get_compile_config` recorded (what
        `keras.saving.load_model` calls) and builds the optimizer, so its
        saved state loads."""
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def save(self, filepath, overwrite=False, **kwargs):
        """`keras.Model.save` to a `.keras` file, written atomically
        (`keras_rnnx.training.save_model`); an existing `filepath` is refused
        with `ExportError` unless `overwrite=True`. `keras.saving.load_model`
        (or `keras_rnnx.training.load_model`) reads the whole model back,
        vocabularies and optimizer state included.

        Args:
            filepath: a path ending in `.keras`.
            overwrite: replace an existing `filepath`.

        Returns:
            The absolute path written.
        """
        if kwargs:
            raise TypeError(f"save: unexpected arguments {sorted(kwargs)}")
        return save_model(self, filepath, overwrite=overwrite, argument="filepath",
                          write=lambda tmp: super(Task, self).save(tmp, overwrite=True))

    @classmethod
    def from_config(cls, config):
        return cls(**config)
