"""SDNet with learngene, end to end at CPU scale: collective model over three tasks with EWC,
learngene extraction, individual models (sizes s, m, l) on a task the collective never saw,
baselines (ZF, LMMSE with the same LS CSI, scratch, full transfer), adaptation speed, sample
efficiency, placement ablation, parameter ratio, and coded BLER in CodedMIMOLink.

Run (from a clean commit): nice -n 10 python experiments/sdnet_learngene.py --threads 1
Writes results/sdnet/learngene.json (with the command and commit).
"""

import argparse
import json
import sys
import time
from pathlib import Path

import kaq_sionna  # noqa: F401  (imports TensorFlow quietly)

ROOT = Path(__file__).resolve().parent.parent
SEED = 2026
COLLECTIVE_TASKS = [
    dict(name="ray-4x8-16qam", num_tx=4, num_rx=8, num_bits_per_symbol=4, channel="rayleigh"),
    dict(name="kron05-4x8-16qam", num_tx=4, num_rx=8, num_bits_per_symbol=4, channel="kronecker",
         tx_corr=0.5, rx_corr=0.5),
    dict(name="ray-8x8-4qam", num_tx=8, num_rx=8, num_bits_per_symbol=2, channel="rayleigh"),
]
TARGET = dict(name="kron-t03-r08-4x8-16qam", num_tx=4, num_rx=8, num_bits_per_symbol=4,
              channel="kronecker", tx_corr=0.3, rx_corr=0.8)
SNR_RANGE = (5.0, 20.0)
PILOTS = 16
EVAL_SNR = [5.0, 10.0, 15.0, 20.0]
MID_SNR = 10.0


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps-per-task", type=int, default=300)
    p.add_argument("--ft-steps", type=int, default=200)
    p.add_argument("--ft-samples", type=int, default=2000)
    p.add_argument("--eval-samples", type=int, default=10000)
    p.add_argument("--out", default=str(ROOT / "results" / "sdnet" / "learngene.json"))
    args = p.parse_args(argv)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    from kaq_sionna.core.provenance import git_commit
    from kaq_sionna.detection.learngene import build_individual, build_sized, extract_learngene
    from kaq_sionna.detection.sdnet import COLLECTIVE_CONV, COLLECTIVE_HEAD
    from kaq_sionna.training.sdnet_tasks import Task, task_batch
    from kaq_sionna.training.sdnet_trainer import evaluate_ber, fit, linear_ber, train_collective

    t0 = time.time()
    mk = lambda d: Task(**d, snr_db=SNR_RANGE, pilots=PILOTS)  # noqa: E731
    tasks = [mk(d) for d in COLLECTIVE_TASKS]
    target = mk(TARGET)
    out = {"command": "python " + " ".join(sys.argv), "commit": git_commit(), "seed": SEED,
           "collective_tasks": [t.as_dict() for t in tasks], "target_task": target.as_dict(),
           "settings": vars(args)}
    ck = Path(args.out).with_name("collective_checkpoint.npz")
    col, ewc, record = train_collective(list(COLLECTIVE_CONV), tasks, args.steps_per_task, 256,
                                        1e-3, 100.0, 8, SEED, checkpoint=ck, log=log,
                                        **COLLECTIVE_HEAD)
    out["collective_record"] = record
    out["collective_ber_own_tasks_mid_snr"] = {
        t.name: {"sdnet": evaluate_ber(col.models[t.name], t, [MID_SNR], args.eval_samples,
                                       77)[0],
                 "zf": linear_ber("zf", t, [MID_SNR], args.eval_samples, 77)[0],
                 "lmmse": linear_ber("lmmse", t, [MID_SNR], args.eval_samples, 77)[0]}
        for t in tasks}
    log(json.dumps(out["collective_ber_own_tasks_mid_snr"]))
    ft_set = task_batch(target, args.ft_samples, SEED + 5)
    ev = lambda m: evaluate_ber(m, target, EVAL_SNR, args.eval_samples, 999)  # noqa: E731
    ber = {"zf": linear_ber("zf", target, EVAL_SNR, args.eval_samples, 999),
           "lmmse": linear_ber("lmmse", target, EVAL_SNR, args.eval_samples, 999)}
    params = {}
    lgs = {pl: extract_learngene(col, 2, pl) for pl in ("bottom", "top")}

    def full_transfer(seed):
        lg_all = extract_learngene(col, len(COLLECTIVE_CONV), "bottom")
        return build_individual(*target.dims, lg_all, [], seed=seed, **COLLECTIVE_HEAD)

    def model(kind, size="m", placement="bottom", seed=SEED):
        if kind == "full":
            return full_transfer(seed)
        return build_sized(size, *target.dims, lgs[placement], inherit=(kind == "learngene"),
                           seed=seed)

    # BER vs SNR after fine-tuning with ft_samples samples
    for size in ("s", "m", "l"):
        for kind in ("learngene", "scratch"):
            m = model(kind, size)
            params[f"{kind}-{size}"] = {"total": m.num_params(),
                                        "inherited": m.num_params(["conv0", "conv1"])
                                        if kind == "learngene" else 0}
            fit(m, target, args.ft_steps, 256, 1e-3, SEED + 11, train_set=ft_set)
            ber[f"{kind}-{size}"] = ev(m)
            log(f"{kind}-{size}: {ber[f'{kind}-{size}']}")
    m = model("full")
    params["full-transfer"] = {"total": m.num_params(),
                               "inherited": m.num_params([c["name"] for c in COLLECTIVE_CONV])}
    fit(m, target, args.ft_steps, 256, 1e-3, SEED + 11, train_set=ft_set)
    ber["full-transfer"] = ev(m)
    log(f"full: {ber['full-transfer']}")
    m = model("learngene", "m", "top")
    fit(m, target, args.ft_steps, 256, 1e-3, SEED + 11, train_set=ft_set)
    ber["learngene-m-top"] = ev(m)
    params["learngene-m-top"] = {"total": m.num_params(), "inherited": m.num_params(
        [c["name"] for c in lgs["top"]["layers"]])}
    for v in params.values():
        v["ratio"] = v["inherited"] / v["total"]
    out["snr_db"], out["ber"], out["params"] = EVAL_SNR, ber, params
    # adaptation speed: BER at MID_SNR after n steps (chunks of 50, Adam restarted per chunk)
    adapt = {}
    for kind in ("learngene", "scratch", "full"):
        m, curve = model(kind), []
        curve.append(evaluate_ber(m, target, [MID_SNR], args.eval_samples, 555)[0])
        for _ in range(4):
            fit(m, target, 50, 256, 1e-3, SEED + 12 + len(curve), train_set=ft_set)
            curve.append(evaluate_ber(m, target, [MID_SNR], args.eval_samples, 555)[0])
        adapt[kind] = curve
    out["adaptation"] = {"steps": [0, 50, 100, 150, 200], "snr_db": MID_SNR, "ber": adapt}
    log(json.dumps(out["adaptation"]))
    # sample efficiency: BER at MID_SNR after ft_steps steps on N samples
    eff = {}
    for n in (250, 1000, 4000):
        data = task_batch(target, n, SEED + 6)
        for kind in ("learngene", "scratch", "full"):
            m = model(kind)
            fit(m, target, args.ft_steps, 256, 1e-3, SEED + 13, train_set=data)
            eff.setdefault(kind, []).append(
                evaluate_ber(m, target, [MID_SNR], args.eval_samples, 555)[0])
    out["sample_efficiency"] = {"num_samples": [250, 1000, 4000], "snr_db": MID_SNR, "ber": eff}
    log(json.dumps(out["sample_efficiency"]))
    out["seconds"] = time.time() - t0
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    log(f"wrote {args.out} in {out['seconds']:.0f} s")


if __name__ == "__main__":
    main()
