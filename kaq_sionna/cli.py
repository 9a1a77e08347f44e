"""The ``kaq-sionna`` command: ``run``, ``train``, ``harq-memory``, ``list`` and ``bench``.

Exit codes: 0 success, 1 unexpected failure, 2 user error (bad scenario,
unknown name, conflicting results), 130 interrupted (finished points kept).
"""

import argparse
import json
import shlex
import sys
from pathlib import Path

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


class UserError(Exception):
    """An error caused by the user's input: printed without a traceback, exit code 2."""


def _cmd_run(args):
    from kaq_sionna.scenario import load_scenario
    from kaq_sionna.sweep import ResumeConflict, run_sweep, summary_table

    scenario = load_scenario(args.scenario)
    out = Path(args.out) if args.out else Path("results") / (
        scenario.name + ("-quick" if args.quick else ""))
    command = "kaq-sionna " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    print(f"scenario {scenario.name} ({args.scenario}) -> {out}/"
          + (" [quick]" if args.quick else ""), flush=True)
    try:
        doc = run_sweep(scenario, out, quick=args.quick, restart=args.restart,
                        command=command)
    except ResumeConflict as err:
        raise UserError(str(err)) from None
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished SNR points are kept in {out}/results.json; "
              "run the same command again to resume.", file=sys.stderr)
        return EXIT_INTERRUPTED
    print("\n" + summary_table(doc))
    print(f"\nwrote {out}/results.json, {out}/results.csv, {out}/plot.png")
    return 0


def _cmd_harq_memory(args):
    from kaq_sionna.harq.memory import NRSoftBufferConfig
    from kaq_sionna.memory_study import run_memory_study
    from kaq_sionna.sweep import ResumeConflict

    try:
        config = NRSoftBufferConfig(
            num_prbs=args.num_prbs, num_layers=args.num_layers,
            num_bits_per_symbol=args.num_bits_per_symbol, coderate=args.coderate,
            num_harq_processes=args.num_harq_processes, num_ues=args.num_ues,
            max_transmissions=args.max_transmissions)
    except ValueError as err:
        raise UserError(f"memory model: {err}") from None
    if not 0 < args.target_bler < 1:
        raise UserError(f"--target-bler: expected a number in (0, 1), found {args.target_bler}")
    out = Path(args.out) if args.out else Path("results") / (
        "harq-memory" + ("-quick" if args.quick else ""))
    command = "kaq-sionna " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    try:
        doc = run_memory_study(args.scenario or None, out, quick=args.quick,
                               restart=args.restart, config=config,
                               target_bler=args.target_bler, simulate=not args.no_simulate,
                               command=command, results_dir=args.results_dir)
    except ResumeConflict as err:
        raise UserError(str(err)) from None
    except FileNotFoundError as err:
        raise UserError(str(err)) from None
    except KeyboardInterrupt:
        print("\ninterrupted: finished SNR points are kept in results/<scenario>/; run the "
              "same command again to resume.", file=sys.stderr)
        return EXIT_INTERRUPTED
    from kaq_sionna.memory_study import memory_table
    print("\n" + memory_table(doc))
    print(f"wrote {out}/memory.json, {out}/memory.md, {out}/memory_vs_penalty.png")
    return 0


def _cmd_train(args):
    from kaq_sionna.training.eqnet_spec import scenario_model_type
    from kaq_sionna.training.trainer import TrainConflict

    # Dispatch on [model] type: EQ-Net has its own schema and trainer.
    if scenario_model_type(args.scenario) == "eqnet":
        from kaq_sionna.training.eqnet_spec import load_eqnet_scenario as load_train_scenario
        from kaq_sionna.training.eqnet_trainer import train_eqnet as train
        ckpt = "checkpoint.npz (and the data in data.npz)"
    else:
        from kaq_sionna.training.spec import load_train_scenario
        from kaq_sionna.training.trainer import train
        ckpt = "checkpoint.npz"

    spec = load_train_scenario(args.scenario)
    if args.ship and args.quick:
        raise UserError("--ship: expected a full run, found --quick (quick models are not "
                        "shipped)")
    out = Path(args.out) if args.out else Path("results") / "train" / (
        spec.name + ("-quick" if args.quick else ""))
    command = "kaq-sionna " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    print(f"training scenario {spec.name} ({args.scenario}) -> {out}/"
          + (" [quick]" if args.quick else ""), flush=True)
    ship_dir = None
    if args.ship:
        from kaq_sionna import pretrained
        ship_dir = pretrained.MODELS_DIR
    try:
        doc = train(spec, out, quick=args.quick, restart=args.restart, ship_dir=ship_dir,
                    command=command)
    except TrainConflict as err:
        raise UserError(str(err)) from None
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished epochs are kept in {out}/{ckpt}; "
              "run the same command again to resume.", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"wrote {out}/model/ ({doc['name']}), {out}/train.json")
    return 0


def _set_threads(n):
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(n)
    except RuntimeError as err:  # pragma: no cover - TF already initialised
        print(f"warning: --threads ignored ({err})", file=sys.stderr)


def registry_listing():
    """Detectors, links and pretrained models as a JSON-serialisable dict."""
    from kaq_sionna import pretrained
    from kaq_sionna.detection.registry import DETECTORS, _ensure_loaded
    from links.registry import LINKS

    _ensure_loaded()
    return {
        "detectors": [DETECTORS[n].as_dict() for n in sorted(DETECTORS)],
        "links": [LINKS[n].as_dict() for n in sorted(LINKS)],
        "pretrained": [{"name": n, "config": c} for n, c in pretrained.available().items()],
    }


def _cmd_list(args):
    listing = registry_listing()
    if args.json:
        print(json.dumps(listing, indent=2))
        return 0
    print("Detectors (name: parameters):")
    for d in listing["detectors"]:
        params = ", ".join(f"{p['name']}={p['default']!r}" for p in d["params"]) or "-"
        print(f"  {d['name']:<10} {d['summary']}\n  {'':<10} parameters: {params}")
    print("\nLinks ([link] type):")
    for lk in listing["links"]:
        print(f"  {lk['name']:<10} {lk['summary']}")
    print("\nPretrained models:")
    if not listing["pretrained"]:
        print("  (none shipped yet)")
    for m in listing["pretrained"]:
        c = m["config"]
        metrics = c.get("final_metrics", {}).get("ber_esno_db", {})
        bers = ", ".join(f"{snr} dB {row['ber']:.4f}" for snr, row in metrics.items())
        print(f"  {m['name']:<28} {c.get('model')}, {c.get('epochs')} epochs"
              + (f", BER {bers}" if bers else "")
              + "  (usable as a [[detector]] name)")
    return 0


def _cmd_bench(args):
    from kaq_sionna.bench import bench_link, format_link_table, write_json

    if args.what != "link":
        raise UserError(f"bench: expected one of 'link', found {args.what!r}")
    modes = [m.strip() for m in args.modes.split(",")]
    bad = [m for m in modes if m not in ("eager", "graph", "xla")]
    if bad:
        raise UserError(f"--modes: expected a comma-separated subset of eager,graph,xla, "
                        f"found {','.join(bad)}")
    if args.batch_size < 1 or args.repeats < 1:
        raise UserError("--batch-size and --repeats: expected positive integers")
    result = bench_link(batch_size=args.batch_size, repeats=args.repeats, modes=modes,
                        stream=sys.stdout)
    print("\n" + format_link_table(result))
    if args.json:
        write_json(args.json, result)
        print(f"\nwrote {args.json}")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="kaq-sionna",
        description="Quantized receiver blocks and HARQ soft-bit storage in Sionna 5G links.")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="sweep a scenario over its SNR grid (resumable)")
    run.add_argument("scenario", help="scenario TOML file (see scenarios/README.md)")
    run.add_argument("--quick", action="store_true", help="reduced sweep for smoke tests")
    run.add_argument("--out", help="output directory (default results/<name>[-quick])")
    run.add_argument("--restart", action="store_true",
                     help="discard results already in the output directory")
    run.add_argument("--threads", type=int, default=0,
                     help="TensorFlow intra/inter-op threads (0: TensorFlow's default)")
    run.set_defaults(func=_cmd_run)

    tr = sub.add_parser("train", help="train an unfolded detector (resumable; see "
                        "scenarios/README.md, Training scenarios)")
    tr.add_argument("scenario", help="training scenario TOML file")
    tr.add_argument("--quick", action="store_true", help="1 tiny epoch, for smoke tests")
    tr.add_argument("--out", help="output directory (default results/train/<name>[-quick])")
    tr.add_argument("--restart", action="store_true", help="discard an existing checkpoint")
    tr.add_argument("--threads", type=int, default=0,
                    help="TensorFlow intra/inter-op threads (0: TensorFlow's default)")
    tr.add_argument("--ship", action="store_true", help="also save the final model as a "
                    "shipped pretrained model (kaq_sionna/pretrained/models/<name>/)")
    tr.set_defaults(func=_cmd_train)

    hm = sub.add_parser("harq-memory", help="HARQ soft-buffer memory study: sweeps the HARQ "
                        "scenarios (resumable) and models a cell's soft-buffer memory")
    hm.add_argument("--scenario", action="append", help="a [harq] scenario (repeatable; "
                    "default: scenarios/harq_{2x2_64qam,4x4_16qam}{,_rounds}.toml)")
    hm.add_argument("--quick", action="store_true", help="quick sweeps, for smoke tests")
    hm.add_argument("--out", help="output directory (default results/harq-memory[-quick])")
    hm.add_argument("--restart", action="store_true", help="discard existing sweep results")
    hm.add_argument("--threads", type=int, default=0,
                    help="TensorFlow intra/inter-op threads (0: TensorFlow's default)")
    hm.add_argument("--results-dir", default="results", help="where the sweeps of the "
                    "scenarios go (<results-dir>/<scenario name>[-quick])")
    hm.add_argument("--no-simulate", action="store_true",
                    help="only read the sweep results already in results/<scenario>/")
    hm.add_argument("--target-bler", type=float, default=0.1,
                    help="BLER after the first retransmission at which penalties are read")
    hm.add_argument("--num-prbs", type=int, default=273, help="PRBs (273: 100 MHz, 30 kHz)")
    hm.add_argument("--num-layers", type=int, default=4)
    hm.add_argument("--num-bits-per-symbol", type=int, default=8, help="8: 256-QAM")
    hm.add_argument("--coderate", type=float, default=0.926)
    hm.add_argument("--num-harq-processes", type=int, default=16)
    hm.add_argument("--num-ues", type=int, default=1)
    hm.add_argument("--max-transmissions", type=int, default=4)
    hm.set_defaults(func=_cmd_harq_memory)

    lst = sub.add_parser("list", help="print detectors, links and pretrained models")
    lst.add_argument("--json", action="store_true", help="machine-readable output")
    lst.set_defaults(func=_cmd_list)

    bench = sub.add_parser("bench", help="speed benchmarks (ratios measured in one run)")
    bench.add_argument("what", choices=["link"], help="what to benchmark")
    bench.add_argument("--batch-size", type=int, default=256)
    bench.add_argument("--repeats", type=int, default=5)
    bench.add_argument("--modes", default="eager,graph,xla")
    bench.add_argument("--json", help="also write the result as JSON to this file")
    bench.set_defaults(func=_cmd_bench)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    from kaq_sionna.params import SpecError  # imports TensorFlow quietly

    if getattr(args, "threads", 0):
        if args.threads < 0:
            print("error: --threads: expected an integer >= 0, found "
                  f"{args.threads}", file=sys.stderr)
            return EXIT_USER_ERROR
        _set_threads(args.threads)
    try:
        return args.func(args)
    except (UserError, SpecError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyError as err:
        print(f"error: {err.args[0]}", file=sys.stderr)
        return EXIT_USER_ERROR
