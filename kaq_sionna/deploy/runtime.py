r"""Running an exported model with the LiteRT interpreter (``ai_edge_litert``), and what
its weights and activations occupy.

:class:`LiteRTModel` wraps :class:`ai_edge_litert.interpreter.Interpreter`
(``tf.lite.Interpreter`` is deprecated in TF 2.19 and removed in 2.20) behind
the model's signature: ``model(y_real=..., h_real=..., s_real=...)`` returns a
dict of numpy outputs. The default op resolver applies the XNNPACK delegate to
the ops it supports (float32 and, partly, int8), as an application would.

Memory (:meth:`LiteRTModel.memory`):

* **weights**: bytes of the constant tensors stored in the flatbuffer (int8
  weights 1 byte, fp16 weights 2 bytes), plus the float32 copies that the
  runtime makes of constants it de-quantizes at load time (fp16 models);
* **activations**: the peak, over the op sequence, of the bytes of the tensors
  alive at once (a tensor lives from the op that produces it to its last use;
  inputs from the start, outputs to the end) -- what LiteRT's arena planner has
  to reserve, ignoring alignment -- at a given batch size, divided by the
  batch size: bytes per channel use.
"""

import numpy as np

from kaq_sionna.core.quiet_tf import stderr_silenced

__all__ = ["LiteRTModel", "liveness_peak"]


def liveness_peak(num_steps, tensors):
    """Peak of the summed sizes of live tensors.

    Input
    -----
    num_steps : int
        Number of ops (steps ``0..num_steps-1``).
    tensors : list of (first_step, last_step, nbytes)
        Each tensor is alive during ``[first_step, last_step]``.

    Output
    ------
    : int
        Bytes.
    """
    delta = np.zeros(num_steps + 2, np.int64)
    for first, last, nbytes in tensors:
        delta[max(first, 0)] += nbytes
        delta[min(last, num_steps) + 1] -= nbytes
    return int(np.cumsum(delta).max(initial=0))


class LiteRTModel:
    r"""A LiteRT model called through its (single) signature.

    Parameters
    ----------
    model_content : bytes or None
        The flatbuffer (or give ``model_path``).
    model_path : str or None
    num_threads : int
        Threads of the interpreter's CPU kernels (and of XNNPACK).
    xnnpack : bool
        `True`: LiteRT's default op resolver, which applies the XNNPACK delegate;
        `False`: the builtin kernels only (``BUILTIN_WITHOUT_DEFAULT_DELEGATES``).

    Input
    -----
    ``**inputs``: np.ndarray per signature input (e.g. ``y_real``, ``h_real``,
    ``s_real``, see :func:`~kaq_sionna.deploy.real_model.real_inputs`), any batch size.

    Output
    ------
    dict of np.ndarray
        Per signature output (e.g. ``llr [batch, num_tx, num_bits_per_symbol]``).
    """

    def __init__(self, model_content=None, model_path=None, num_threads=1, xnnpack=True):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        if (model_content is None) == (model_path is None):
            raise ValueError("give exactly one of model_content and model_path")
        if model_content is None:
            with open(model_path, "rb") as fh:
                model_content = fh.read()
        self.model_content = model_content
        self.num_threads = int(num_threads)
        self._called = False
        with stderr_silenced():  # "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."
            self._interpreter = Interpreter(
                model_content=model_content, num_threads=num_threads,
                experimental_op_resolver_type=OpResolverType.AUTO if xnnpack else
                OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
            self._runner = self._interpreter.get_signature_runner()
        sig = self._interpreter.get_signature_list()
        key = next(iter(sig))
        self.input_names = list(sig[key]["inputs"])
        self.output_names = list(sig[key]["outputs"])

    def __call__(self, **inputs):
        if not self._called:  # the delegate announces itself at the first invocation
            self._called = True
            with stderr_silenced():
                return self._runner(**inputs)
        return self._runner(**inputs)

    @property
    def size_bytes(self):
        """`int` : Size of the flatbuffer."""
        return len(self.model_content)

    def op_summary(self):
        """Ops of the model (without delegates) by op type and the dtype of their output.

        Output
        ------
        : dict
            ``{"int8": {"BATCH_MATMUL": 14, ...}, "float32": {...}, ...}``
        """
        it = self._static_interpreter(1)
        details = {t["index"]: t for t in it.get_tensor_details()}
        out = {}
        for op in it._get_ops_details():
            outs = [details[i] for i in op["outputs"] if i in details]
            dtype = np.dtype(outs[0]["dtype"]).name if outs else "none"
            out.setdefault(dtype, {})
            out[dtype][op["op_name"]] = out[dtype].get(op["op_name"], 0) + 1
        return {k: dict(sorted(v.items())) for k, v in sorted(out.items())}

    def delegation(self, batch_size=16):
        r"""Which ops the XNNPACK delegate takes over, and in how many partitions.

        The interpreter (default op resolver, this model's thread count) is built and
        invoked once at ``batch_size``. Each delegate partition then appears as one
        ``DELEGATE`` node appended to the node list (the count that XNNPACK's
        "Replacing N node(s) ... yielding K partitions" log line gives; LiteRT 2.3's
        Python wrapper does not print that line). A partition covers exactly the ops
        reached by walking back from its output tensors without crossing its input
        tensors; the ops in no partition run on LiteRT's builtin kernels.

        Input
        -----
        batch_size : int

        Output
        ------
        : dict
            ``partitions`` (int), ``delegated_ops`` (int), ``total_ops`` (int) and
            ``undelegated`` (``{dtype: {op type: count}}``, as :meth:`op_summary`).
        """
        from ai_edge_litert.interpreter import Interpreter

        with stderr_silenced():
            it = Interpreter(model_content=self.model_content, num_threads=self.num_threads)
            for d in it.get_input_details():
                shape = list(d["shape"])
                shape[0] = batch_size
                it.resize_tensor_input(d["index"], shape)
            it.allocate_tensors()
            for d in it.get_input_details():
                it.set_tensor(d["index"], np.zeros(
                    [batch_size, *d["shape"][1:]], d["dtype"]))
            it.invoke()
        nodes = it._get_ops_details()
        ops = [op for op in nodes if op["op_name"] != "DELEGATE"]
        delegates = [op for op in nodes if op["op_name"] == "DELEGATE"]
        producer = {i: k for k, op in enumerate(ops) for i in op["outputs"]}
        delegated = set()
        for d in delegates:
            stop, todo = set(d["inputs"]), [i for i in d["outputs"]]
            while todo:
                k = producer.get(todo.pop())
                if k is None or k in delegated:
                    continue
                delegated.add(k)
                todo += [i for i in ops[k]["inputs"] if i >= 0 and i not in stop]
        details = {t["index"]: t for t in it.get_tensor_details()}
        undelegated = {}
        for k, op in enumerate(ops):
            if k in delegated:
                continue
            outs = [details[i] for i in op["outputs"] if i in details]
            dtype = np.dtype(outs[0]["dtype"]).name if outs else "none"
            by_type = undelegated.setdefault(dtype, {})
            by_type[op["op_name"]] = by_type.get(op["op_name"], 0) + 1
        return {"partitions": len(delegates), "delegated_ops": len(delegated),
                "total_ops": len(ops),
                "undelegated": {k: dict(sorted(v.items())) for k, v in sorted(undelegated.items())}}

    def _static_interpreter(self, batch_size):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        it = Interpreter(model_content=self.model_content, experimental_op_resolver_type=(
            OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES))
        for d in it.get_input_details():
            shape = list(d["shape"])
            shape[0] = batch_size
            it.resize_tensor_input(d["index"], shape)
        it.allocate_tensors()
        return it

    def memory(self, batch_size=256):
        r"""Weight and activation memory (module docstring).

        Input
        -----
        batch_size : int
            Batch at which the activations are measured (per-sample constants
            are amortised over it).

        Output
        ------
        : dict
            ``weights_bytes`` (stored constants), ``weights_runtime_bytes``
            (with load-time de-quantized copies), ``activations_bytes_per_cu``
            (peak live activations / batch), ``file_bytes``.
        """
        it = self._static_interpreter(batch_size)
        details = {t["index"]: t for t in it.get_tensor_details()}
        ops = it._get_ops_details()

        def nbytes(i):
            d = details.get(i)
            if d is None:
                return 0
            return int(np.prod(d["shape"])) * np.dtype(d["dtype"]).itemsize

        produced = {i: step for step, op in enumerate(ops) for i in op["outputs"]}
        model_inputs = {d["index"] for d in it.get_input_details()}
        model_outputs = {d["index"] for d in it.get_output_details()}
        consts = {i for op in ops for i in op["inputs"]
                  if i >= 0 and i not in produced and i not in model_inputs}
        # ops whose inputs are all constant run once at load time (e.g. DEQUANTIZE of fp16)
        folded = set()
        for op in ops:
            ins = [i for i in op["inputs"] if i >= 0]
            if ins and all(i in consts or i in folded for i in ins):
                folded.update(op["outputs"])
        last_use = {}
        for step, op in enumerate(ops):
            for i in op["inputs"]:
                if i >= 0:
                    last_use[i] = step
        n = len(ops)
        live = []
        for i in set(produced) | model_inputs:
            if i in folded:
                continue
            first = -1 if i in model_inputs else produced[i]
            last = n if i in model_outputs else last_use.get(i, first)
            live.append((max(first, 0), last, nbytes(i)))
        weights = sum(nbytes(i) for i in consts)
        return {"weights_bytes": int(weights),
                "weights_runtime_bytes": int(weights + sum(nbytes(i) for i in folded)),
                "activations_bytes_per_cu": liveness_peak(n, live) / batch_size,
                "file_bytes": self.size_bytes}
