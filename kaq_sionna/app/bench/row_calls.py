"""A benchmark row as a callable: a TF graph (``tf.function``, no XLA) on complex inputs, or
LiteRT models on the real-valued inputs, with its memory."""

from pathlib import Path

import numpy as np

from kaq_sionna.app.bench.measure import MEMORY_BATCH, tf_graph_memory

__all__ = ["build_row"]

REGISTRY_DETECTORS = ("lmmse", "kbest", "ml", "mmse-sic")


def build_row(row, ctx, export_dir, threads, xnnpack=True):
    """A row's call factory and memory.

    TF rows run as ``tf.function`` graphs on complex inputs; LiteRT rows on the real-valued
    inputs (:func:`~kaq_sionna.deploy.real_model.real_inputs`, converted by the factory,
    outside the timed call). A LiteRT model is exported once into ``export_dir`` and reused
    from there.

    Parameters
    ----------
    row : :class:`~kaq_sionna.app.bench.detector_rows.BenchRow`
    ctx : :class:`~kaq_sionna.registry.detectors.LinkContext`
    export_dir : str or Path
        Folder of the converted ``.tflite`` files.
    threads : int
        LiteRT interpreter threads.
    xnnpack : bool
        LiteRT with the default op resolver (XNNPACK delegate) or the builtin kernels only.

    Output
    ------
    factory : callable
        ``factory(batch)`` draws a batch and returns a function that runs one call on it.
    memory : dict
        ``weights_bytes``, ``activations_bytes_per_cu`` (and ``loops_not_expanded``).
    """
    from kaq_sionna.quantization.calibration import rayleigh_mimo_batch

    nt, nr, k = ctx.num_tx, ctx.num_rx, ctx.num_bits_per_symbol

    def draw(batch):
        return rayleigh_mimo_batch(nt, nr, k, batch, (0.0, 25.0), seed=1234 + batch,
                                   precision="single")

    model = None
    if row.source not in REGISTRY_DETECTORS:
        from kaq_sionna.registry import load_pretrained

        model = load_pretrained(row.source, **({} if row.source.startswith("eqnet")
                                               else {"precision": "single"}))
    if row.runtime == "tf":
        return _tf_row(row, ctx, model, draw)
    return _litert_row(row, model, draw, export_dir, threads, xnnpack)


def _tf_row(row, ctx, model, draw):
    """``(factory, memory)`` of a TF row: the registry detector ``row.source`` (``model``
    None) or a part of the pretrained ``model``, as a ``tf.function`` graph."""
    import tensorflow as tf

    from kaq_sionna.registry.detectors import build_detector

    if model is None:
        call = build_detector(row.source, ctx, **row.params)
    elif row.part == "quantization":  # compress + decompress of given LLRs
        def call(llr):
            return model.decompress(model.compress(llr))
    elif row.part == "network":
        def call(y, h, s):
            return model.estimate(y, h, s).x_real
    else:
        call = model
    fn = tf.function(call)

    def args_of(batch):
        y, h, s = draw(batch).inputs
        # input of the quantization path: EQ-Net's own estimate
        return (model.estimate(y, h, s),) if row.part == "quantization" else (y, h, s)

    def factory(batch):
        args = args_of(batch)
        return lambda: fn(*args).numpy()

    cf = fn.get_concrete_function(*args_of(MEMORY_BATCH))
    return factory, tf_graph_memory(cf, MEMORY_BATCH)


def _litert_row(row, model, draw, export_dir, threads, xnnpack):
    """``(factory, memory)`` of a LiteRT row: the exported part(s) of the pretrained ``model``
    (``quantization``: the encoder then the decoder), memory summed over the parts."""
    from kaq_sionna.deploy.export import export_model
    from kaq_sionna.deploy.real_model import real_inputs
    from kaq_sionna.deploy.runtime import LiteRTModel

    parts = ("encoder", "decoder") if row.part == "quantization" else (row.part,)
    models = []
    for part in parts:
        path = Path(export_dir) / f"{row.source}-{part}-{row.precision}.tflite"
        if not path.exists():
            _, _, content = export_model(row.source, row.precision, part)
            path.write_bytes(content)
        models.append(LiteRTModel(model_path=str(path), num_threads=threads,
                                  xnnpack=xnnpack))
    memory = [m.memory(MEMORY_BATCH) for m in models]
    memory = {key: sum(m[key] for m in memory) for key in memory[0]}

    def llr_of(y, h, s):  # input of the quantization path: EQ-Net's own estimate
        return model.estimate(y, h, s)

    def factory(batch):
        y, h, s = draw(batch).inputs
        yr, hr, sr = real_inputs(y, h, s)
        if row.part == "encoder":
            llr = llr_of(y, h, s).numpy()
            return lambda: models[0](llr=llr)
        if row.part == "decoder":
            codes = model.compress(llr_of(y, h, s)).numpy().astype(np.int32)
            return lambda: models[0](codes=codes)
        if row.part == "quantization":
            llr = llr_of(y, h, s).numpy()
            enc, dec = models

            def run():
                codes = enc(llr=llr)["codes"]
                return dec(codes=codes)["llr"]
            return run
        m = models[0]
        return lambda: m(y_real=yr, h_real=hr, s_real=sr)

    return factory, memory
