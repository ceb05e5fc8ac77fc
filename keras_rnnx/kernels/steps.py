"""The step math: one LSTM step and one GRU step, the only place either is
written. Cells, the default kernels (fast, lean and any-activation loops),
the TFLite lowerings and (through the cells) the decoding loops all call these.

Both take the *projected input* `x_proj` = x @ W + b (input bias included)
of one step, so a caller projects however suits it (one product for all
steps before a loop, or per step), and return a namedtuple with the new
state and the intermediate values that hand-written backward passes need.
Activations are callables (see `activations.resolve_activation`). A
recurrent activation covers several gates with one op when it is a known
elementwise one, and is applied gate by gate otherwise (softmax, a user's
callable), as Keras' cells do (`activations.per_gate`). The ops are plain
TensorFlow ops, so the traced graph of a kernel calling them is exactly the
ops below.
"""
import collections

import tensorflow as tf

from keras_rnnx.kernels.activations import per_gate, resolve_activation

__all__ = ["LSTMStep", "GRUStep", "lstm_step", "gru_step", "gru_biases",
           "lstm_recurrence", "gru_recurrence"]

LSTMStep = collections.namedtuple("LSTMStep", "h c i f g o tc")
LSTMStep.__doc__ = """One LSTM step's values: the new `h` and `c`, the
activated gates `i`, `f`, `o`, the activated candidate `g` and
`tc` = activation(c)."""

GRUStep = collections.namedtuple("GRUStep", "h gates candidate recurrent")
GRUStep.__doc__ = """One GRU step's values: the new `h`; `gates` the
activated gates ([B, 2H] z, r for "full"; [B, H] u for "simplified");
`candidate` the activated candidate (hh, or c~); `recurrent` the recurrent
part of the candidate's pre-activation before the reset gate multiplies it
(h @ U_h + b_rec, reset_after=True only, else None)."""


def lstm_step(x_proj, h, c, recurrent_kernel, activation=tf.tanh,
              recurrent_activation=tf.sigmoid, *, gate_order="ifco"):
    """One LSTM step (Keras' LSTMCell math).

    z = x_proj + h @ U; i, f, o = recurrent_activation(z_i, z_f, z_o);
    g = activation(z_c); c' = f * c + i * g; h' = o * activation(c').

    Args:
        x_proj: [B, 4H] projected input x @ W + b.
        h: [B, H] state entering the recurrent product (a cell in training
            passes it with recurrent dropout applied).
        c: [B, H] cell state.
        recurrent_kernel: U [H, 4H].
        activation, recurrent_activation: callables.
        gate_order: column order of `x_proj` and U: "ifco" (Keras') or
            "ifoc" (one activation op for the three gates; TFLite lowering).

    Returns:
        `LSTMStep(h, c, i, f, g, o, tc)`.
    """
    z = x_proj + tf.matmul(h, recurrent_kernel)
    if gate_order == "ifco":
        zi, zf, zc, zo = tf.split(z, 4, axis=1)
        i = recurrent_activation(zi)
        f = recurrent_activation(zf)
        g = activation(zc)
        o = recurrent_activation(zo)
    elif gate_order == "ifoc":
        units = recurrent_kernel.shape[0]
        z_sig, z_c = tf.split(z, [3 * units, units], axis=-1)
        i, f, o = tf.split(per_gate(recurrent_activation, z_sig, 3), 3, axis=-1)
        g = activation(z_c)
    else:
        raise ValueError(f"gate_order must be 'ifco' or 'ifoc', got {gate_order!r}")
    c_new = f * c + i * g
    tc = activation(c_new)
    return LSTMStep(o * tc, c_new, i, f, g, o, tc)


def gru_step(x_proj, h, recurrent_kernel, recurrent_bias=None,
             activation=tf.tanh, recurrent_activation=tf.sigmoid, *,
             reset_after=True, variant="full", h_prev=None):
    """One GRU step (Keras' GRUCell math, or the update-gate-only GRU).

    "full", gate order z, r, h:
        reset_after=True:  hh = act(x_h + r * (h @ U_h + b_rec_h))
        reset_after=False: hh = act(x_h + (r * h) @ U_h)
        h' = z * h_prev + (1 - z) * hh, computed as hh + z * (h_prev - hh).
    "simplified", gate order u, c:
        u = ract(x_u + h @ U_u), c~ = act(x_c + h @ U_c),
        h' = u * c~ + (1 - u) * h_prev, computed as h_prev + u * (c~ - h_prev).

    Args:
        x_proj: [B, 3H] ("full") or [B, 2H] ("simplified") projected input
            x @ W + b (the input bias row with reset_after=True).
        h: [B, H] state entering the recurrent products and the reset gate
            (a cell in training passes it with recurrent dropout applied).
        recurrent_kernel: U [H, 3H] or [H, 2H]; with reset_after=False also
            the pair (U[:, :2H], U[:, 2H:]), split once outside a loop.
        recurrent_bias: [3H] second bias row (reset_after=True) or None.
        activation, recurrent_activation: callables.
        reset_after, variant: as `GRUCellX`'s.
        h_prev: [B, H] state the update interpolates from; default `h`.

    Returns:
        `GRUStep(h, gates, candidate, recurrent)`.
    """
    if h_prev is None:
        h_prev = h
    if variant == "simplified":
        hdim = recurrent_kernel.shape[0]
        a = x_proj + tf.matmul(h, recurrent_kernel)
        u = recurrent_activation(a[:, :hdim])
        cand = activation(a[:, hdim:])
        return GRUStep(h_prev + u * (cand - h_prev), u, cand, None)
    if variant != "full":
        raise ValueError(f"variant must be 'full' or 'simplified', got {variant!r}")
    if reset_after:
        hdim = recurrent_kernel.shape[0]
        rec = tf.matmul(h, recurrent_kernel)
        if recurrent_bias is not None:
            rec = rec + recurrent_bias  # not bias_add: see loop.Projection
        zr = per_gate(recurrent_activation, x_proj[:, : 2 * hdim] + rec[:, : 2 * hdim], 2)
        rh = rec[:, 2 * hdim:]
        hh = activation(x_proj[:, 2 * hdim:] + zr[:, hdim:] * rh)
    else:
        if isinstance(recurrent_kernel, (tuple, list)):
            u_zr, u_h = recurrent_kernel
            hdim = u_zr.shape[0]
        else:
            hdim = recurrent_kernel.shape[0]
            u_zr = recurrent_kernel[:, : 2 * hdim]
            u_h = recurrent_kernel[:, 2 * hdim:]
        rh = None
        zr = per_gate(recurrent_activation, x_proj[:, : 2 * hdim] + tf.matmul(h, u_zr), 2)
        hh = activation(x_proj[:, 2 * hdim:] + tf.matmul(zr[:, hdim:] * h, u_h))
    return GRUStep(hh + zr[:, :hdim] * (h_prev - hh), zr, hh, rh)


def gru_biases(bias, reset_after=True, variant="full"):
    """(input bias, recurrent bias or None) of a GRU bias in Keras' layout:
    rows 0 and 1 of the [2, 3H] bias for the full variant with
    reset_after=True, else (bias, None). A None bias gives (None, None)."""
    if bias is None:
        return None, None
    if variant == "full" and reset_after:
        return bias[0], bias[1]
    return bias, None


def lstm_recurrence(recurrent_kernel, dtype, activation="tanh",
                    recurrent_activation="sigmoid", gate_order="ifco"):
    """The per-step function a sequence lowering runs for an LSTM:
    `step(x_t, [h, c]) -> (h, [h, c])`, `x_t` one step of the input
    projection (kernel and bias applied). Activations are resolved
    (`activations.resolve_activation`) and `recurrent_kernel` cast to
    `dtype` once, outside the step."""
    act = resolve_activation(activation)
    rec = resolve_activation(recurrent_activation)
    recurrent_kernel = tf.cast(recurrent_kernel, dtype)

    def step(x_t, states):
        s = lstm_step(x_t, states[0], states[1], recurrent_kernel, act, rec,
                      gate_order=gate_order)
        return s.h, [s.h, s.c]

    return step


def gru_recurrence(recurrent_kernel, recurrent_bias, dtype, activation="tanh",
                   recurrent_activation="sigmoid", reset_after=True, variant="full"):
    """The per-step function a sequence lowering runs for a GRU:
    `step(x_t, [h]) -> (h, [h])`, `x_t` one step of the input projection
    (kernel and the input half of `gru_biases` applied), `recurrent_bias`
    the other half (None where the variant has none). Activations are
    resolved and the recurrent weights cast to `dtype` once."""
    act = resolve_activation(activation)
    rec = resolve_activation(recurrent_activation)
    recurrent_kernel = tf.cast(recurrent_kernel, dtype)
    if recurrent_bias is not None:
        recurrent_bias = tf.cast(recurrent_bias, dtype)

    def step(x_t, states):
        h = gru_step(x_t, states[0], recurrent_kernel, recurrent_bias, act, rec,
                     reset_after=reset_after, variant=variant).h
        return h, [h]

    return step
