"""KAQ-quantized SDNet and its int8 LiteRT export (issue 21 item 5, docs/sdnet.md): paired BER of
SDNet models, their int8 LiteRT detectors (LiteRT network + the ZF front end in TF) and Sionna's
ZF / LMMSE on the same channel uses, the export's agreement with its TF twin, and the LiteRT
network's size and latency.

Per model (a shipped name or a training output directory ``results/train/<name>``):

* ``tf``: the TF model as trained (KAQ fake quantizers included);
* ``int8``: :func:`~kaq_sionna.deploy.sdnet_export.export_sdnet_network` in int8, detector LLRs =
  LiteRT correction + the ZF LLRs; its agreement report
  (:func:`~kaq_sionna.deploy.sdnet_export.check_sdnet_export`, 2000 uses over the task's SNR
  range, seed 4242) and the same for an fp32 export;
* BER at ``--snr`` on ``--samples`` channel uses of the first model's task (seed ``--seed``, the
  same uses for every detector), paired differences per channel use against ``--reference`` and
  ZF: mean, 95% interval (normal approximation), z-score;
* latency of the LiteRT network (fp32 and int8, 1 thread, XNNPACK), median of ``--repeats``
  invocations at batch 1 and 256 (inputs prepared beforehand; the ZF front end is not included).

Run: ``PYTHONPATH=. nice -n 19 python experiments/sdnet_kaq_export.py --threads 1 \\
--out results/sdnet_kaq/sdnet_kaq_export.json sdnet-m-4x8-16qam-kron38 \\
results/train/sdnet-m-{fp32,kaq8,kaq4}-4x8-16qam-kron38``
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np

import kaq_sionna  # noqa: F401  (imports TensorFlow quietly)


def _load(src):
    from kaq_sionna.detection.sdnet_io import load_sdnet
    from kaq_sionna.detection.unfolded_io import resolve_model

    path = Path(src)
    if (path / "model" / "config.json").is_file():
        path = path / "model"
    directory, config = resolve_model(str(path) if path.exists() else src)
    return load_sdnet(directory, config=config), config


def _paired(a, b):
    """Mean of ``a - b`` per channel use, 95% interval, z-score."""
    d = a - b
    se = d.std(ddof=1) / np.sqrt(len(d))
    return {"diff": float(d.mean()), "ci95": [float(d.mean() - 1.96 * se),
                                              float(d.mean() + 1.96 * se)],
            "z": float(d.mean() / se) if se > 0 else 0.0}


def _latency(model, inputs, batch, repeats):
    feed = {k: np.ascontiguousarray(v[:batch]) for k, v in inputs.items()}
    model(**feed)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model(**feed)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+", help="shipped SDNet names or training output dirs")
    p.add_argument("--reference", default=None, help="the model the others are paired against "
                   "(default: the first)")
    p.add_argument("--snr", type=float, default=10.0)
    p.add_argument("--samples", type=int, default=20000)
    p.add_argument("--seed", type=int, default=4243)
    p.add_argument("--repeats", type=int, default=200)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    from sionna.phy.mimo import LinearDetector

    from kaq_sionna.core.provenance import git_commit
    from kaq_sionna.deploy.runtime import LiteRTModel
    from kaq_sionna.deploy.sdnet_export import (
        check_sdnet_export,
        export_sdnet_network,
        network_inputs,
    )
    from kaq_sionna.training.sdnet_tasks import Task, task_batch

    models = {}
    for src in args.models:
        det, config = _load(src)
        models[config.get("name", src)] = (det, config)
    first = next(iter(models.values()))[1]
    task = Task.from_dict(first["task"])
    y, h, s, bits = task_batch(task, args.samples, args.seed, snr_db=args.snr)
    bits = bits.numpy()

    def errors(llr):
        err = (np.asarray(llr, np.float32) > 0) != (bits > 0.5)
        return err.reshape(args.samples, -1).mean(1)

    per_use = {}
    for kind in ("zf", "lmmse"):
        det = LinearDetector(kind, "bit", "app", "qam", task.num_bits_per_symbol)
        per_use[kind] = errors(det(y, h, s).numpy())
    report = {"task": task.as_dict(), "snr_esno_db": args.snr, "num_samples": args.samples,
              "seed": args.seed, "threads": args.threads, "models": {},
              "git_commit": git_commit(),
              "command": "python experiments/sdnet_kaq_export.py " + " ".join(
                  argv if argv is not None else __import__("sys").argv[1:])}
    for name, (det, config) in models.items():
        if Task.from_dict(config["task"]) != task:
            raise SystemExit(f"{name}: trained on another task than {first.get('name')}")
        q = det.quantizer
        entry = {"quantizer": None if q is None else {"mode": q.mode, "num_bits": q.num_bits},
                 "num_params": det.num_params()}
        per_use[f"{name}/tf"] = errors(det.logits(y, h, s).numpy())
        inputs = network_inputs(det, y, h, s)
        zf_llr = det.zf_llr(y, h, s).numpy()
        entry["export"] = {}
        for precision in ("fp32", "int8"):
            content = export_sdnet_network(det, task, precision)
            check = check_sdnet_export(det, task, content, precision)
            lite = LiteRTModel(model_content=content, num_threads=args.threads)
            corr = np.concatenate([lite(**{k: v[i:i + 1024] for k, v in inputs.items()})[
                "correction"] for i in range(0, args.samples, 1024)])
            per_use[f"{name}/{precision}"] = errors(corr + zf_llr)
            entry["export"][precision] = {
                "size_bytes": len(content), "check": check, "ops": lite.op_summary(),
                "latency_s": {str(b): _latency(lite, inputs, b, max(10, args.repeats // (
                    1 if b == 1 else 10))) for b in (1, 256)}}
        report["models"][name] = entry
    ref = args.reference or next(iter(models))
    report["reference"] = ref
    report["ber"] = {k: float(v.mean()) for k, v in per_use.items()}
    report["paired_vs_reference"] = {k: _paired(v, per_use[f"{ref}/tf"])
                                     for k, v in per_use.items() if k != f"{ref}/tf"}
    report["paired_vs_zf"] = {k: _paired(v, per_use["zf"]) for k, v in per_use.items()
                              if k != "zf"}
    for k, v in per_use.items():
        vs_ref = report["paired_vs_reference"].get(k)
        vs_zf = report["paired_vs_zf"].get(k)
        print(f"{k:50s} BER {v.mean():.4f}"
              + (f"  vs {ref}: {vs_ref['diff']:+.4f} (z {vs_ref['z']:+.1f})" if vs_ref else "")
              + (f"  vs ZF: {vs_zf['diff']:+.4f} (z {vs_zf['z']:+.1f})" if vs_zf else ""))
    for name, entry in report["models"].items():
        for precision, e in entry["export"].items():
            llr = e["check"]["stats"]["llr"]
            print(f"{name} {precision}: {e['size_bytes']} B, agreement {llr['hard_agreement']:.4f}"
                  f", rel. LLR error {llr['rel_err_mean']:.4f}, within tolerance "
                  f"{e['check']['within_tolerance']}, latency b1 {1e6 * e['latency_s']['1']:.0f}"
                  f" us, b256 {1e6 * e['latency_s']['256']:.0f} us")
    if args.out:
        from kaq_sionna.core.atomic_io import atomic_write_text

        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.out, json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
