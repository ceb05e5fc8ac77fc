"""The default GRU kernel: loops with hand-written backward passes for
tanh/sigmoid (full reset_after True/False, simplified), and one loop
differentiated by autodiff for any activation, which is also the lean
tanh/sigmoid inference loop. The step math is `steps.gru_step`."""
from keras_rnnx.kernels.activations import resolve_activation
from keras_rnnx.kernels import loop
from keras_rnnx.kernels.loop import (_BackwardSteps, _Projection, _StepMask,
                                     _finish, _inference_only,
                                     _input_grads, _into_step, _is_fast, _loop,
                                     _outer, _outer_all, _past_step, _prepare,
                                     _sigmoid_grad, _ta, _tanh_grad,
                                     _time_steps)
from keras_rnnx.kernels.steps import gru_biases, gru_step

__all__ = ["default_gru_sequence"]


def _gru_fast_reset_after(x, w, b, h0, u, b_rec, mask_tb, du_in_loop=True):
    """Full GRU, reset_after=True, tanh/sigmoid, hand-written backward."""
    import tensorflow as tf

    dtype = x.dtype
    hdim = u.shape[0]

    @tf.custom_gradient
    def core(x, w, b, h0, u, b_rec):
        n = _time_steps(x)

        zx_s = _Projection(x, w, b, n)
        step_mask = _StepMask(mask_tb, n)

        def body(t, h, hs_ta, zr_ta, hh_ta, rh_ta):
            s = gru_step(zx_s[t], h, u, b_rec, tf.tanh, tf.sigmoid)
            zr, hh, rh = s.gates, s.candidate, s.recurrent
            h_new = step_mask.keep(t, s.h, h)
            return (h_new, hs_ta.write(t, h_new), zr_ta.write(t, zr),
                    hh_ta.write(t, hh), rh_ta.write(t, rh))

        h_t, hs_ta, zr_ta, hh_ta, rh_ta = _loop(
            n, body, (h0,) + tuple(_ta(dtype, n) for _ in range(4)))
        hs = hs_ta.stack()
        hs.set_shape(x.shape[:2].concatenate([hdim]))

        def grad(dhs):
            ut = tf.transpose(u)
            steps = _BackwardSteps(dhs, hs, h0, mask_tb, n)

            def bbody(t, dh, du, db_rec, dx_ta, drec_ta):
                dh = steps.upstream(t, dh)
                m = steps.mask(t)
                dhn = _into_step(m, dh)
                z, r = tf.split(zr_ta.read(t), 2, axis=1)
                hh, hp = hh_ta.read(t), steps.h_prev(t)
                da_h = _tanh_grad(hh, dhn - dhn * z)
                da_z = _sigmoid_grad(z, dhn * (hp - hh))
                da_r = _sigmoid_grad(r, da_h * rh_ta.read(t))
                drec = tf.concat([da_z, da_r, da_h * r], axis=1)
                dh_prev = _past_step(m, dhn * z + tf.matmul(drec, ut), dh, dhn)
                dx_ta = dx_ta.write(t, tf.concat([da_z, da_r, da_h], axis=1))
                if du_in_loop:
                    du = du + _outer(hp, drec)
                    db_rec = db_rec + tf.reduce_sum(drec, axis=0)
                else:
                    drec_ta = drec_ta.write(t, drec)
                return dh_prev, du, db_rec, dx_ta, drec_ta

            dh0, du, db_rec, dx_ta, drec_ta = _loop(
                n, bbody,
                (tf.zeros_like(h0), tf.zeros_like(u), tf.zeros_like(b_rec),
                 _ta(dtype, n), _ta(dtype, n)),
                reverse=True)
            if not du_in_loop:
                drecs = drec_ta.stack()
                du = _outer_all(steps.h_prevs, drecs)
                db_rec = tf.reduce_sum(drecs, axis=[0, 1])
            dx, dw, db = _input_grads(x, w, dx_ta.stack())
            return dx, dw, db, dh0, du, db_rec

        return hs, grad

    return core(x, w, b, h0, u, b_rec)


def _gru_fast_reset_before(x, w, b, h0, u, mask_tb, du_in_loop=True):
    """Full GRU, reset_after=False, tanh/sigmoid, hand-written backward."""
    import tensorflow as tf

    dtype = x.dtype
    hdim = u.shape[0]

    @tf.custom_gradient
    def core(x, w, b, h0, u):
        n = _time_steps(x)
        u_zr, u_h = u[:, : 2 * hdim], u[:, 2 * hdim:]

        zx_s = _Projection(x, w, b, n)
        step_mask = _StepMask(mask_tb, n)

        def body(t, h, hs_ta, zr_ta, hh_ta):
            s = gru_step(zx_s[t], h, (u_zr, u_h), None, tf.tanh, tf.sigmoid,
                         reset_after=False)
            zr, hh = s.gates, s.candidate
            h_new = step_mask.keep(t, s.h, h)
            return (h_new, hs_ta.write(t, h_new), zr_ta.write(t, zr),
                    hh_ta.write(t, hh))

        h_t, hs_ta, zr_ta, hh_ta = _loop(
            n, body, (h0,) + tuple(_ta(dtype, n) for _ in range(3)))
        hs = hs_ta.stack()
        hs.set_shape(x.shape[:2].concatenate([hdim]))

        def grad(dhs):
            u_zr_t, u_h_t = tf.transpose(u_zr), tf.transpose(u_h)
            steps = _BackwardSteps(dhs, hs, h0, mask_tb, n)

            def bbody(t, dh, du_zr, du_h, dx_ta, rhp_ta):
                dh = steps.upstream(t, dh)
                m = steps.mask(t)
                dhn = _into_step(m, dh)
                z, r = tf.split(zr_ta.read(t), 2, axis=1)
                hh, hp = hh_ta.read(t), steps.h_prev(t)
                da_h = _tanh_grad(hh, dhn - dhn * z)
                d_rh = tf.matmul(da_h, u_h_t)
                da_zr = tf.concat([_sigmoid_grad(z, dhn * (hp - hh)),
                                   _sigmoid_grad(r, d_rh * hp)], axis=1)
                dh_prev = _past_step(m, dhn * z + d_rh * r + tf.matmul(da_zr, u_zr_t),
                                     dh, dhn)
                dx_ta = dx_ta.write(t, tf.concat([da_zr, da_h], axis=1))
                if du_in_loop:
                    du_zr = du_zr + _outer(hp, da_zr)
                    du_h = du_h + _outer(r * hp, da_h)
                else:
                    rhp_ta = rhp_ta.write(t, r * hp)
                return dh_prev, du_zr, du_h, dx_ta, rhp_ta

            dh0, du_zr, du_h, dx_ta, rhp_ta = _loop(
                n, bbody,
                (tf.zeros_like(h0), tf.zeros_like(u_zr), tf.zeros_like(u_h),
                 _ta(dtype, n), _ta(dtype, n)),
                reverse=True)
            dxs = dx_ta.stack()
            if not du_in_loop:
                da_zr_all, da_h_all = tf.split(dxs, [2 * hdim, hdim], axis=2)
                du_zr = _outer_all(steps.h_prevs, da_zr_all)
                du_h = _outer_all(rhp_ta.stack(), da_h_all)
            dx, dw, db = _input_grads(x, w, dxs)
            return dx, dw, db, dh0, tf.concat([du_zr, du_h], axis=1)

        return hs, grad

    return core(x, w, b, h0, u)


def _gru_fast_simplified(x, w, b, h0, u, mask_tb, du_in_loop=True):
    """Update-gate-only GRU, tanh/sigmoid, hand-written backward."""
    import tensorflow as tf

    dtype = x.dtype
    hdim = u.shape[0]

    @tf.custom_gradient
    def core(x, w, b, h0, u):
        n = _time_steps(x)

        zx_s = _Projection(x, w, b, n)
        step_mask = _StepMask(mask_tb, n)

        def body(t, h, hs_ta, u_ta, c_ta):
            s = gru_step(zx_s[t], h, u, None, tf.tanh, tf.sigmoid,
                         variant="simplified")
            uu, cc = s.gates, s.candidate
            h_new = step_mask.keep(t, s.h, h)
            return (h_new, hs_ta.write(t, h_new), u_ta.write(t, uu),
                    c_ta.write(t, cc))

        h_t, hs_ta, u_ta, c_ta = _loop(
            n, body, (h0,) + tuple(_ta(dtype, n) for _ in range(3)))
        hs = hs_ta.stack()
        hs.set_shape(x.shape[:2].concatenate([hdim]))

        def grad(dhs):
            ut = tf.transpose(u)
            steps = _BackwardSteps(dhs, hs, h0, mask_tb, n)

            def bbody(t, dh, du, dz_ta):
                dh = steps.upstream(t, dh)
                m = steps.mask(t)
                dhn = _into_step(m, dh)
                uu, cc, hp = u_ta.read(t), c_ta.read(t), steps.h_prev(t)
                dhu = dhn * uu
                dz = tf.concat([_sigmoid_grad(uu, dhn * (cc - hp)),
                                _tanh_grad(cc, dhu)], axis=1)
                dh_prev = _past_step(m, (dhn - dhu) + tf.matmul(dz, ut), dh, dhn)
                if du_in_loop:
                    du = du + _outer(hp, dz)
                return dh_prev, du, dz_ta.write(t, dz)

            dh0, du, dz_ta = _loop(
                n, bbody, (tf.zeros_like(h0), tf.zeros_like(u), _ta(dtype, n)),
                reverse=True)
            dzs = dz_ta.stack()
            if not du_in_loop:
                du = _outer_all(steps.h_prevs, dzs)
            dx, dw, db = _input_grads(x, w, dzs)
            return dx, dw, db, dh0, du

        return hs, grad

    return core(x, w, b, h0, u)


def _gru_generic(x, w, b, h0, u, b_rec, mask_tb, act, ract, reset_after,
                 variant):
    """Any-activation GRU recurrence, differentiated by autodiff; also the
    tanh/sigmoid inference loop (nothing is saved for a backward pass)."""
    import tensorflow as tf

    dtype = x.dtype
    hdim = u.shape[0]
    n = _time_steps(x)

    zx_s = _Projection(x, w, b, n)
    step_mask = _StepMask(mask_tb, n)

    def body(t, h, hs_ta):
        h_new = gru_step(zx_s[t], h, u, b_rec, act, ract,
                         reset_after=reset_after, variant=variant).h
        h_new = step_mask.keep(t, h_new, h)
        return h_new, hs_ta.write(t, h_new)

    _, hs_ta = _loop(n, body, (h0, _ta(dtype, n)))
    hs = hs_ta.stack()
    hs.set_shape(x.shape[:2].concatenate([hdim]))
    return hs


def default_gru_sequence(inputs, initial_state, kernel, recurrent_kernel, bias,
                         *, mask=None, go_backwards=False,
                         return_sequences=True, activation="tanh",
                         recurrent_activation="sigmoid", reset_after=True,
                         variant="full", training=None):
    """The default GRU kernel (contract: `keras_rnnx.kernels.dispatch`).

    `training=False` with no gradient tape recording runs a lean inference
    loop; otherwise tanh/sigmoid GRUs use the hand-written backward pass.
    On a CPU the batch runs as independent row groups (`_in_row_groups`).
    """
    return loop._in_row_groups(
        _gru_rows, inputs, initial_state, mask,
        (kernel, recurrent_kernel, bias),
        dict(go_backwards=go_backwards, return_sequences=return_sequences,
             activation=activation, recurrent_activation=recurrent_activation,
             reset_after=reset_after, variant=variant, training=training))


def _gru_rows(inputs, initial_state, kernel, recurrent_kernel, bias, *, mask,
              go_backwards, return_sequences, activation, recurrent_activation,
              reset_after, variant, training, grouped=False):
    """`default_gru_sequence` for one group of rows (`grouped`: one of
    several, see `_outer_all`)."""
    import tensorflow as tf

    if bias is not None and variant == "full" and reset_after:
        bias = tf.convert_to_tensor(bias)  # one read of the variable, two rows
    b_in, b_rec = gru_biases(bias, reset_after, variant)
    x, mask_tb, w, b_in, dtype = _prepare(inputs, kernel, b_in, mask,
                                          go_backwards)
    u = tf.cast(tf.convert_to_tensor(recurrent_kernel), dtype)
    h0 = tf.cast(tf.convert_to_tensor(initial_state[0]), dtype)
    if b_rec is not None:
        b_rec = tf.cast(b_rec, dtype)
    if not _inference_only(training) and _is_fast(activation, recurrent_activation):
        in_loop = not grouped
        if variant == "simplified":
            hs = _gru_fast_simplified(x, w, b_in, h0, u, mask_tb, in_loop)
        elif reset_after:
            if b_rec is None:
                b_rec = tf.zeros([u.shape[1]], dtype)
            hs = _gru_fast_reset_after(x, w, b_in, h0, u, b_rec, mask_tb,
                                       in_loop)
        else:
            hs = _gru_fast_reset_before(x, w, b_in, h0, u, mask_tb, in_loop)
    else:
        a = resolve_activation(activation)
        r = resolve_activation(recurrent_activation)
        hs = _gru_generic(x, w, b_in, h0, u, b_rec, mask_tb, a, r,
                          reset_after, variant)
    return _finish(hs, [hs[-1]], mask_tb, return_sequences)


