"""The default LSTM kernel: the loop with a hand-written backward pass for
tanh/sigmoid, a lean inference loop, and an any-activation loop
differentiated by autodiff. The step math is `steps.lstm_step`."""
from keras_rnnx.kernels.activations import resolve_activation
from keras_rnnx.kernels import loop
from keras_rnnx.kernels.loop import (_BackwardSteps, _Projection, _StepMask,
                                     _finish, _inference_only,
                                     _input_grads, _is_fast, _loop, _outer,
                                     _outer_all, _prepare, _sigmoid_grad, _ta,
                                     _tanh_grad, _time_steps, _zeros_if_none)
from keras_rnnx.kernels.steps import lstm_step

__all__ = ["default_lstm_sequence"]


def _lstm_fast(x, w, b, h0, c0, u, mask_tb, du_in_loop=True):
    """tanh/sigmoid LSTM recurrence with a hand-written backward pass.

    x: [T, B, D] time-major inputs, projected step by step inside the loop
    (`_Projection`). Returns (hs, c_T): the carried h after every step
    [T, B, H] and the final c.

    The backward pass is linear in the incoming gradients, so the forward
    loop saves its coefficients instead of the gate values: with
    dct = dc + dh * o * (1 - tanh(c)^2) (the gradient reaching c),

        dz = [dct, dct, dct, dh] * [i(1-i) g, f(1-f) c_prev, (1-g^2) i,
                                     o(1-o) tanh(c)]
        dc_prev = dct * f,   dh_prev = dz @ U^T

    The coefficients are computed in the forward loop off the recurrent
    chain (the chain waits on h @ U, so they can run on an idle core), which
    leaves the backward loop's chain a multiply-add, a concat, a multiply
    and dh @ U^T per step instead of about fifteen ops. A masked step saves zero coefficients and
    f = 1, so its dc passes unchanged and its dz is zero; its dh passes by
    one `where`. Same memory as saving the gates (7H floats per step and
    row). dU accumulates inside the backward loop (`_outer`), or is one
    product after it for a row group (`du_in_loop=False`, `_outer_all`);
    dW, db and dx are one big matrix product each after it.
    """
    import tensorflow as tf

    dtype = x.dtype
    hdim = u.shape[0]

    @tf.custom_gradient
    def core(x, w, b, h0, c0, u):
        n = _time_steps(x)

        zx_s = _Projection(x, w, b, n)
        step_mask = _StepMask(mask_tb, n)

        def body(t, h, c, hs_ta, g_ta, a_ta, f_ta):
            s = lstm_step(zx_s[t], h, c, u, tf.tanh, tf.sigmoid)
            i, f, g, o, tc = s.i, s.f, s.g, s.o, s.tc
            h_new, c_new = step_mask.keep(t, (s.h, s.c), (h, c))
            # backward coefficients: not on the chain, nothing here waits
            coef = tf.concat([_sigmoid_grad(i, g), _sigmoid_grad(f, c),
                              _tanh_grad(g, i), _sigmoid_grad(o, tc)], axis=1)
            a = _tanh_grad(tc, o)
            if mask_tb is not None:
                coef, a, f = step_mask.keep(
                    t, (coef, a, f),
                    (tf.zeros_like(coef), tf.zeros_like(a), tf.ones_like(f)))
            return (h_new, c_new, hs_ta.write(t, h_new), g_ta.write(t, coef),
                    a_ta.write(t, a), f_ta.write(t, f))

        h_t, c_t, hs_ta, g_ta, a_ta, f_ta = _loop(
            n, body, (h0, c0) + tuple(_ta(dtype, n) for _ in range(4)))
        hs = hs_ta.stack()
        hs.set_shape(x.shape[:2].concatenate([hdim]))

        def grad(dhs, dc_final):
            dc_final = _zeros_if_none(dc_final, c_t)
            ut = tf.transpose(u)
            steps = _BackwardSteps(dhs, hs, h0, mask_tb, n, mask_as="bool")

            def bbody(t, dh, dc, du, dz_ta):
                dh = steps.upstream(t, dh)
                dct = dc + dh * a_ta.read(t)
                dz = tf.concat([dct, dct, dct, dh], axis=1) * g_ta.read(t)
                dh_prev = steps.skip(t, tf.matmul(dz, ut), dh)
                if du_in_loop:
                    du = du + _outer(steps.h_prev(t), dz)
                return dh_prev, dct * f_ta.read(t), du, dz_ta.write(t, dz)

            dh0, dc0, du, dz_ta = _loop(
                n, bbody,
                (tf.zeros_like(h0), dc_final, tf.zeros_like(u), _ta(dtype, n)),
                reverse=True,
            )
            dzs = dz_ta.stack()
            if not du_in_loop:
                du = _outer_all(steps.h_prevs, dzs)
            dx, dw, db = _input_grads(x, w, dzs)
            return dx, dw, db, dh0, dc0, du

        return (hs, c_t), grad

    return core(x, w, b, h0, c0, u)


def _lstm_generic(x, w, b, h0, c0, u, mask_tb, act, ract):
    """Any-activation LSTM recurrence, differentiated by autodiff; also the
    tanh/sigmoid inference loop (nothing is saved for a backward pass)."""
    import tensorflow as tf

    dtype = x.dtype
    n = _time_steps(x)

    zx_s = _Projection(x, w, b, n)
    step_mask = _StepMask(mask_tb, n)

    def body(t, h, c, hs_ta):
        s = lstm_step(zx_s[t], h, c, u, act, ract)
        h_new, c_new = step_mask.keep(t, (s.h, s.c), (h, c))
        return h_new, c_new, hs_ta.write(t, h_new)

    _, c_t, hs_ta = _loop(n, body, (h0, c0, _ta(dtype, n)))
    hs = hs_ta.stack()
    hs.set_shape(x.shape[:2].concatenate([u.shape[0]]))
    return hs, c_t


def default_lstm_sequence(inputs, initial_state, kernel, recurrent_kernel,
                          bias, *, mask=None, go_backwards=False,
                          return_sequences=True, activation="tanh",
                          recurrent_activation="sigmoid", training=None):
    """The default LSTM kernel (contract: `keras_rnnx.kernels.dispatch`).

    `training=False` with no gradient tape recording (inference) runs a lean
    loop that saves nothing for a backward pass; otherwise tanh/sigmoid LSTMs
    use the loop with the hand-written backward pass. On a CPU the batch
    runs as independent row groups (`_in_row_groups`).
    """
    return loop._in_row_groups(
        _lstm_rows, inputs, initial_state, mask,
        (kernel, recurrent_kernel, bias),
        dict(go_backwards=go_backwards, return_sequences=return_sequences,
             activation=activation, recurrent_activation=recurrent_activation,
             training=training))


def _lstm_rows(inputs, initial_state, kernel, recurrent_kernel, bias, *,
               mask, go_backwards, return_sequences, activation,
               recurrent_activation, training, grouped=False):
    """`default_lstm_sequence` for one group of rows (`grouped`: one of
    several, see `_outer_all`)."""
    import tensorflow as tf

    x, mask_tb, w, b, dtype = _prepare(inputs, kernel, bias, mask, go_backwards)
    u = tf.cast(tf.convert_to_tensor(recurrent_kernel), dtype)
    h0, c0 = [tf.cast(tf.convert_to_tensor(s), dtype) for s in initial_state]
    if not _inference_only(training) and _is_fast(activation, recurrent_activation):
        hs, c_t = _lstm_fast(x, w, b, h0, c0, u, mask_tb,
                             du_in_loop=not grouped)
    else:
        a = resolve_activation(activation)
        r = resolve_activation(recurrent_activation)
        hs, c_t = _lstm_generic(x, w, b, h0, c0, u, mask_tb, a, r)
    return _finish(hs, [hs[-1], c_t], mask_tb, return_sequences)


