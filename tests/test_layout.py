"""The package layout's promises: `.keras` files written before the layout
change (flat modules, `keras_rnnx.lstm` etc.) still load and compute the same."""
import os

import numpy as np

DATA = os.path.join(os.path.dirname(__file__), "data")


def test_keras_file_from_the_flat_layout_loads_and_computes_the_same():
    # written at ea03147 by the flat package: LSTMX, GRUX (reset_after both
    # ways, simplified), BiDirectional, both cells in keras.layers.RNN,
    # BahdanauAttention, the four poolings, SanitizeIds and TokenDropout
    import keras

    import keras_rnnx  # noqa: F401 - registers the layers

    model = keras.saving.load_model(os.path.join(DATA, "layers_v0_1.keras"))
    want = np.load(os.path.join(DATA, "layers_v0_1_expected.npz"))
    got = model.predict(want["inputs"], verbose=0)
    np.testing.assert_allclose(got, want["outputs"], rtol=1e-5, atol=1e-7)
    names = {type(layer).__name__ for layer in model.layers}
    assert {"BiDirectional", "GRUX", "BahdanauAttention", "SanitizeIds",
            "TokenDropout", "AttentionPooling"} <= names
