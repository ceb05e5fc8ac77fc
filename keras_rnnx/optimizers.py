"""`LazyAdam`: Adam that updates only the rows a sparse gradient touches.

A table read with a gather (`keras.ops.take`, an `Embedding`, the wide part
`BagOfNgrams`) gets its gradient as a `tf.IndexedSlices`: the rows of this
batch only. Keras' `Adam` turns it into a dense update of the whole table
and its two slots every step (the moments decay on every row), so a table
of hundreds of thousands of rows costs in proportion to its size, not to
the batch. `LazyAdam` (TensorFlow Addons' name for the same rule) updates
the touched rows only: their moments and weights follow Adam's rule with
the global step's bias correction, and the rows the batch does not read,
with their moments, stay as they are. Dense gradients get Keras' `Adam`
unchanged.

`clipnorm` keeps a sparse gradient sparse: its duplicate rows are summed
first, so the norm is the dense gradient's norm. A gradient becomes dense
(and the update Adam's) as soon as anything dense is added to it, e.g. a
`keras.regularizers.L2` on the whole table: penalise the rows a batch reads
instead (`BagOfNgrams(row_l2=...)`).
"""
import keras
import tensorflow as tf
from keras import ops

__all__ = ["LazyAdam"]


def deduplicate(gradient):
    """A `tf.IndexedSlices` with each row index once (its values summed)."""
    unique, positions = tf.unique(gradient.indices)
    values = tf.math.unsorted_segment_sum(gradient.values, positions, tf.shape(unique)[0])
    return tf.IndexedSlices(values, unique, gradient.dense_shape)


@keras.saving.register_keras_serializable(package="keras_rnnx")
class LazyAdam(keras.optimizers.Adam):
    """Adam whose sparse (`tf.IndexedSlices`) updates touch only the rows
    in the gradient.

    For a variable whose gradient is a `tf.IndexedSlices` with rows `r`
    (duplicates summed), at step `t` (1-based, `iterations + 1`):

        m[r] += (g - m[r]) * (1 - beta_1)
        v[r] += (g**2 - v[r]) * (1 - beta_2)
        w[r] -= lr * sqrt(1 - beta_2**t) / (1 - beta_1**t) * m[r] / (sqrt(v[r]) + epsilon)

    (with `amsgrad`, `v_hat[r] = max(v_hat[r], v[r])` in place of `v[r]`);
    every other row of `w`, `m` and `v` is left unchanged. Dense gradients
    get `keras.optimizers.Adam`'s update. Unlike Adam, a row's moments do
    not decay while no batch reads it, so a rare row's next step is not
    shrunk by the steps it missed (the trade TensorFlow Addons' `LazyAdam`
    makes, for its cost: in proportion to the rows read, not the table).

    Args:
        learning_rate, beta_1, beta_2, epsilon, amsgrad: as
            `keras.optimizers.Adam`.
        **kwargs: `keras.optimizers.Adam`'s other arguments (`clipnorm`,
            `clipvalue`, `global_clipnorm`, `weight_decay`, `name`, ...).
            `clipnorm` keeps a sparse gradient sparse (its norm is the dense
            gradient's); `weight_decay`, `global_clipnorm` and gradient
            accumulation act as in Adam, on whole variables.

    Example:

    >>> import numpy as np
    >>> table = keras.Variable(np.ones((4, 2), "float32"))
    >>> opt = LazyAdam(learning_rate=0.1)
    >>> grad = tf.IndexedSlices(tf.ones((1, 2)), tf.constant([2]), tf.constant([4, 2]))
    >>> opt.apply([grad], [table])
    >>> print(np.asarray(table).round(3))   # row 2 moved by the learning rate, the rest kept
    [[1.  1. ]
     [1.  1. ]
     [0.9 0.9]
     [1.  1. ]]
    """

    def update_step(self, gradient, variable, learning_rate):
        if not isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        gradient = deduplicate(gradient)
        rows = gradient.indices
        lr = ops.cast(learning_rate, variable.dtype)
        g = ops.cast(gradient.values, variable.dtype)
        step = ops.cast(self.iterations + 1, variable.dtype)
        beta_1_power = ops.power(ops.cast(self.beta_1, variable.dtype), step)
        beta_2_power = ops.power(ops.cast(self.beta_2, variable.dtype), step)
        alpha = lr * ops.sqrt(1 - beta_2_power) / (1 - beta_1_power)

        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        m_rows = ops.take(m, rows, axis=0)
        v_rows = ops.take(v, rows, axis=0)
        m_rows = m_rows + (g - m_rows) * (1 - self.beta_1)
        v_rows = v_rows + (ops.square(g) - v_rows) * (1 - self.beta_2)
        self.assign(m, tf.IndexedSlices(m_rows, rows, gradient.dense_shape))
        self.assign(v, tf.IndexedSlices(v_rows, rows, gradient.dense_shape))
        if self.amsgrad:
            v_hat = self._velocity_hats[index]
            v_rows = ops.maximum(ops.take(v_hat, rows, axis=0), v_rows)
            self.assign(v_hat, tf.IndexedSlices(v_rows, rows, gradient.dense_shape))
        step_rows = m_rows * alpha / (ops.sqrt(v_rows) + self.epsilon)
        self.assign_sub(variable, tf.IndexedSlices(step_rows, rows, gradient.dense_shape))

    def _clip_by_norm(self, values, axes=None):
        if not isinstance(values, tf.IndexedSlices):
            return super()._clip_by_norm(values, axes)
        values = deduplicate(values)
        return tf.IndexedSlices(super()._clip_by_norm(values.values), values.indices,
                                values.dense_shape)
