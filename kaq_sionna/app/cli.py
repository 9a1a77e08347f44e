"""The ``kaq-sionna`` command: ``run``, ``reproduce``, ``train``, ``harq-memory``, ``list``,
``bench``, ``export`` and ``report``.

Exit codes: 0 success, 1 unexpected failure, 2 user error (bad scenario,
unknown name, conflicting results), 3 ``reproduce`` found different counts, 130 interrupted
(finished points kept).
"""

import argparse
import contextlib
import json
import math
import shlex
import sys
from pathlib import Path

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
EXIT_NOT_REPRODUCED = 3


class UserError(Exception):
    """An error caused by the user's input: printed without a traceback, exit code 2."""


def _check_execution(args):
    """``--workers``/``--scheduler``/``--threads-per-worker`` checked before anything runs."""
    if args.workers < 0:
        raise UserError(f"--workers: expected 0 (run in this process) or a positive number of "
                        f"worker processes, found {args.workers}")
    if args.threads_per_worker < 1:
        raise UserError(f"--threads-per-worker: expected a positive integer, found "
                        f"{args.threads_per_worker}")
    if args.workers and args.scheduler:
        raise UserError("--workers and --scheduler: expected one of them (--workers starts a "
                        "local cluster, --scheduler uses an existing one), found both")
    if args.workers or args.scheduler:
        try:
            import dask.distributed  # noqa: F401
        except ImportError:
            raise UserError("--workers/--scheduler need Dask: pip install 'dask[distributed]'"
                            ) from None


def _execution(args):
    return {"workers": args.workers, "scheduler": args.scheduler,
            "threads_per_worker": args.threads_per_worker, "threads": args.threads}


@contextlib.contextmanager
def _execution_errors(out):
    """A unit that raised on a worker, or a scheduler that cannot be reached: one message
    (exit 1), the finished points kept."""
    from kaq_sionna.app.executors import UnitFailed

    try:
        yield
    except UnitFailed as err:
        raise RunFailed(f"a simulation unit failed: {err}\nfinished points are kept in "
                        f"{out}; fix the cause and run the same command again to resume."
                        ) from None
    except OSError as err:  # e.g. no scheduler at --scheduler ADDRESS
        if "connect" not in str(err).lower() and "timed out" not in str(err).lower():
            raise
        raise UserError(f"--scheduler: could not reach the Dask scheduler ({err})") from None


class RunFailed(Exception):
    """A simulation failed on a worker: printed without a traceback, exit code 1."""


def _cmd_run(args):
    from kaq_sionna.app.paired import paired_table
    from kaq_sionna.app.scenario import load_scenario
    from kaq_sionna.app.sweep import ResumeConflict, run_sweep, summary_table

    _check_execution(args)
    scenario = load_scenario(args.scenario)
    out = Path(args.out) if args.out else Path("results") / (
        scenario.name + ("-quick" if args.quick else ""))
    command = command_line(args)
    print(f"scenario {scenario.name} ({args.scenario}) -> {out}/"
          + (" [quick]" if args.quick else ""), flush=True)
    reused = 0 if args.restart else _finished_points(out / "results.json")
    try:
        with out_of_memory_as_user_error(out_of_memory_message(scenario, args, out)):
            with _execution_errors(out):
                doc = run_sweep(scenario, out, quick=args.quick, restart=args.restart,
                                command=command, **_execution(args))
    except ResumeConflict as err:
        raise UserError(str(err)) from None
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished SNR points are kept in {out}/results.json; "
              "run the same command again to resume.", file=sys.stderr)
        return EXIT_INTERRUPTED
    print("\n" + summary_table(doc))
    paired = paired_table(doc)
    if paired:
        print("\n" + paired)
    if reused:
        total = sum(len(c["snr_db"]) for c in doc["curves"])
        print(f"\nreused {reused} of {total} SNR points already in {out}/results.json "
              f"(simulated {total - reused} now); to recompute them all: "
              f"{command} --restart (or --out NEW_FOLDER)")
    print(f"\nwrote {out}/results.json, {out}/results.csv, {out}/plot.png")
    return 0


def _cmd_reproduce(args):
    from kaq_sionna.app.reproduce import DIFFERENT, ReproduceError, format_report, reproduce
    from kaq_sionna.core.atomic_io import atomic_write_text

    print(f"re-simulating {args.results}" + (f" (first {args.points} points of each curve)"
                                             if args.points else "") + " ...", flush=True)
    try:
        report = reproduce(args.results, points=args.points, out=args.out,
                           bit_tolerance=args.bit_tolerance,
                           stream=sys.stdout if args.verbose else None)
    except ReproduceError as err:
        raise UserError(str(err)) from None
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(format_report(report))
    if args.json:
        report["command"] = command_line(args)
        atomic_write_text(args.json, json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")
    return EXIT_NOT_REPRODUCED if report["verdict"] == DIFFERENT else 0


def _finished_points(path):
    """Number of SNR points already in a results file (0 if there is none or it is unreadable)."""
    try:
        return sum(len(c["snr_db"]) for c in json.loads(Path(path).read_text())["curves"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def _cmd_harq_memory(args):
    from kaq_sionna.app.memory_study import run_memory_study
    from kaq_sionna.app.sweep import ResumeConflict
    from kaq_sionna.harq.memory import NRSoftBufferConfig

    _check_execution(args)
    try:
        config = NRSoftBufferConfig(
            num_prbs=args.num_prbs, num_layers=args.num_layers,
            num_bits_per_symbol=args.num_bits_per_symbol, coderate=args.coderate,
            num_harq_processes=args.num_harq_processes, num_ues=args.num_ues,
            max_transmissions=args.max_transmissions)
    except ValueError as err:
        raise UserError(f"memory model: {err}") from None
    if not 0 < args.target_bler < 1:  # also refuses nan
        raise UserError(f"--target-bler: expected a number in (0, 1), found {args.target_bler}")
    out = Path(args.out) if args.out else Path("results") / (
        "harq-memory" + ("-quick" if args.quick else ""))
    command = "kaq-sionna " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    try:
        with out_of_memory_as_user_error(
                "out of memory: a HARQ sweep's batch does not fit; lower [sweep] batch_size (and "
                "raise max_mc_iter) in the [harq] scenario files (--scenario); finished SNR "
                "points are kept in results/<scenario>/"):
            with _execution_errors(out):
                doc = run_memory_study(args.scenario or None, out, quick=args.quick,
                                       restart=args.restart, config=config,
                                       target_bler=args.target_bler,
                                       simulate=not args.no_simulate, command=command,
                                       results_dir=args.results_dir, **_execution(args))
    except ResumeConflict as err:
        raise UserError(str(err)) from None
    except FileNotFoundError as err:
        raise UserError(str(err)) from None
    except KeyboardInterrupt:
        print("\ninterrupted: finished SNR points are kept in results/<scenario>/; run the "
              "same command again to resume.", file=sys.stderr)
        return EXIT_INTERRUPTED
    from kaq_sionna.app.memory_study import memory_table
    print("\n" + memory_table(doc))
    print(f"wrote {out}/memory.json, {out}/memory.md, {out}/memory_vs_penalty.png")
    return 0


def _cmd_train(args):
    from kaq_sionna.training.eqnet_spec import scenario_model_type
    from kaq_sionna.training.trainer import TrainConflict

    # Dispatch on [model] type: EQ-Net and SDNet have their own schemas and trainers.
    model_type = scenario_model_type(args.scenario)
    if model_type == "eqnet":
        from kaq_sionna.training.eqnet_spec import load_eqnet_scenario as load_train_scenario
        from kaq_sionna.training.eqnet_trainer import train_eqnet as train
        ckpt = "checkpoint.npz (and the data in data.npz)"
    elif model_type == "sdnet":
        from kaq_sionna.training.sdnet_run import train_sdnet as train
        from kaq_sionna.training.sdnet_spec import load_sdnet_scenario as load_train_scenario
        ckpt = "checkpoint.npz"
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
    command = command_line(args)
    print(f"training scenario {spec.name} ({args.scenario}) -> {out}/"
          + (" [quick]" if args.quick else ""), flush=True)
    ship_dir = ship_target(spec.name, args.overwrite) if args.ship else None
    try:
        with out_of_memory_as_user_error(
                f"out of memory: a training batch does not fit; lower the batch size in "
                f"[training] of {args.scenario} (batch_size; EQ-Net: stage1_batch_size / "
                f"stage2_batch_size); finished epochs (SDNet: steps up to the last "
                f"checkpoint) are kept in {out}/{ckpt}"):
            doc = train(spec, out, quick=args.quick, restart=args.restart, ship_dir=ship_dir,
                        command=command)
    except TrainConflict as err:
        raise UserError(str(err)) from None
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished epochs (SDNet: steps up to the last checkpoint) "
              f"are kept in {out}/{ckpt}; "
              "run the same command again to resume.", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"wrote {out}/model/ ({doc['name']}), {out}/train.json")
    return 0


@contextlib.contextmanager
def out_of_memory_as_user_error(message):
    """Turns running out of memory inside the block into a :class:`UserError` with ``message``
    (one line naming the key to lower); every other error passes unchanged."""
    try:
        yield
    except Exception as err:  # noqa: BLE001 - only out-of-memory is turned into a user error
        if not is_out_of_memory(err):
            raise
        raise UserError(message) from None


def is_out_of_memory(err):
    """True for TensorFlow's ResourceExhaustedError (out of memory) and Python's MemoryError."""
    return isinstance(err, MemoryError) or type(err).__name__ == "ResourceExhaustedError"


def out_of_memory_message(scenario, args, out):
    """One line naming the scenario key to lower when a batch does not fit in memory."""
    settings = scenario.sweep_settings(args.quick)
    key = "[sweep.quick] batch_size" if args.quick else "[sweep] batch_size"
    return (f"out of memory: a batch of {settings['batch_size']} does not fit; lower {key} "
            f"in {args.scenario} (e.g. to {max(1, settings['batch_size'] // 4)}) and raise "
            f"max_mc_iter to keep the statistics; finished SNR points are kept in "
            f"{out}/results.json")


def command_line(args):
    """The command as given (``kaq-sionna`` and the arguments ``main`` parsed), quoted so that
    it re-runs as written; recorded in results.json and config.json."""
    argv = getattr(args, "argv", None)
    argv = sys.argv[1:] if argv is None else argv
    return "kaq-sionna " + " ".join(shlex.quote(str(a)) for a in argv)


def ship_target(name, overwrite=False):
    """The folder ``train --ship`` writes the model ``name`` into, or a :class:`UserError`.

    Models are shipped only from a development checkout (a git clone, where they can be
    committed), never into an installed package; a name that is already shipped, or that a
    built-in detector uses, is refused unless ``overwrite`` (``--overwrite``) is given.
    """
    from kaq_sionna import pretrained
    from kaq_sionna.registry import DETECTORS

    repo = pretrained.REPOSITORY_MODELS_DIR.parent
    if not (repo / ".git").exists() or not (repo / "pyproject.toml").is_file():
        raise UserError("--ship: expected a development checkout of kaq-sionna (models are "
                        "shipped by committing them), found an installed package at "
                        f"{Path(pretrained.__file__).parent}; use the trained model by path "
                        "instead: [[detector]] path = \"results/train/<name>/model\"")
    if name in DETECTORS:
        raise UserError(f"--ship: expected a model name that is not a registry entry, found "
                        f"{name!r} (rename [scenario] name)")
    if name in pretrained.available() and not overwrite:
        raise UserError(f"--ship: a model named {name!r} is already shipped "
                        f"({pretrained.model_dir(name)}); rename [scenario] name of the "
                        "training scenario, or add --overwrite to replace it")
    return pretrained.MODELS_DIR


def _set_threads(n):
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(n)
    except RuntimeError as err:  # pragma: no cover - TF already initialised
        print(f"warning: --threads ignored ({err})", file=sys.stderr)


def _training_length(config, short=False):
    """How long a shipped model was trained, from its config.json: epochs, or for SDNet
    models the Adam steps (per task for a collective model)."""
    if config.get("model") == "sdnet":
        steps = config.get("training", {}).get("steps", "?")
        return f"{steps}st" if short else (
            f"{steps} steps" + (" per task" if config.get("role") == "collective" else ""))
    epochs = config.get("epochs", config.get("epochs_stage1", "-"))
    return str(epochs) if short else f"{epochs} epochs"


def registry_listing():
    """Detectors, links and pretrained models as a JSON-serialisable dict."""
    from kaq_sionna import pretrained
    from kaq_sionna.registry import DETECTORS
    from links.registry import LINKS

    listing = {
        "detectors": [DETECTORS[n].as_dict() for n in sorted(DETECTORS)],
        "links": [LINKS[n].as_dict() for n in sorted(LINKS)],
        "pretrained": [{"name": n, "config": c,
                        **({"not_detecting": pretrained.not_detecting(n, c)}
                           if pretrained.not_detecting(n, c) else {})}
                       for n, c in pretrained.available().items()],
    }
    damaged = pretrained.damaged()
    if damaged:  # listed apart, so that one damaged model does not hide the others
        listing["damaged"] = [{"name": n, "problem": p} for n, p in sorted(damaged.items())]
    return listing


def describe_model(name_or_path):
    """``describe()`` of a shipped model (by name) or a model folder (by path)."""
    from kaq_sionna import pretrained
    from kaq_sionna.registry.pretrained import (
        LOADERS,
        damaged_error,
        guarded_load,
        load_pretrained,
        resolve_model_path,
    )

    if name_or_path in pretrained.available():
        return load_pretrained(name_or_path)
    if name_or_path in pretrained.damaged():
        raise UserError(f"pretrained model {name_or_path!r} is damaged: "
                        f"{pretrained.damaged()[name_or_path]}")
    folder = resolve_model_path(name_or_path)
    try:
        config = pretrained.read_config(folder)
    except pretrained.DamagedModel as err:
        raise damaged_error(f"model at {name_or_path}", folder, str(err)) from None
    if config["model"] not in LOADERS:
        raise UserError(f"model at {name_or_path}: model type {config['model']!r}, expected one "
                        f"of {', '.join(sorted(LOADERS))}")
    return guarded_load(f"model at {name_or_path}", folder,
                        lambda: LOADERS[config["model"]](name_or_path, config, folder))


def _system_of(config):
    s = config.get("system", {})
    return f"{s.get('num_tx')}x{s.get('num_rx')}-{2 ** s.get('num_bits_per_symbol', 0)}qam"


def _cmd_list(args):
    sections = ("detectors", "links", "models")
    if args.what not in (None, *sections):  # a model: its learned parameters
        model = describe_model(args.what)
        print(json.dumps(model.describe(as_dict=True), indent=2) if args.json
              else model.describe())
        return 0
    listing = registry_listing()
    if args.system:
        listing["pretrained"] = [m for m in listing["pretrained"]
                                 if _system_of(m["config"]) == args.system]
    if args.what is not None:
        keep = {"detectors": "detectors", "links": "links", "models": "pretrained"}[args.what]
        listing = {k: v for k, v in listing.items()
                   if k == keep or k == "damaged" and keep == "pretrained"}
    if args.json:
        print(json.dumps(listing, indent=2))
        return 0
    if args.what == "models":
        print(f"{'model':<44} {'type':<8} {'system':<11} {'epochs':>6}  val BER (LMMSE) at Es/N0")
        for m in listing["pretrained"]:
            if m.get("not_detecting"):
                bers_note = "  [does not detect: a quantizer only (kaq-sionna list MODEL)]"
            else:
                bers_note = ""
            c = m["config"]
            metrics = c.get("final_metrics", {}).get("ber_esno_db", {})
            bers = ", ".join(f"{snr} dB {row['ber']:.4f}" + (
                f" ({row['ber_lmmse']:.4f})" if "ber_lmmse" in row else "")
                for snr, row in metrics.items())
            print(f"{m['name']:<44} {c.get('model', '?'):<8} {_system_of(c):<11} "
                  f"{_training_length(c, short=True):>6}  {bers or '-'}"
                  + bers_note)
        _print_damaged(listing)
        print("\nlearned parameters of one: kaq-sionna list MODEL")
        return 0
    shown = set(listing)
    if "detectors" in shown:
        print("Detectors (name: parameters):")
    for d in listing.get("detectors", []):
        params = ", ".join(f"{p['name']}={p['default']!r}" for p in d["params"]) or "-"
        print(f"  {d['name']:<10} {d['summary']}\n  {'':<10} parameters: {params}")
    if "links" in shown:
        print("\nLinks ([link] type):")
    for lk in listing.get("links", []):
        print(f"  {lk['name']:<10} {lk['summary']}")
    if "pretrained" not in shown:
        return 0
    print("\nPretrained models:")
    if not listing["pretrained"]:
        print("  (none shipped yet)")
    for m in listing["pretrained"]:
        c = m["config"]
        metrics = c.get("final_metrics", {}).get("ber_esno_db", {})
        bers = ", ".join(f"{snr} dB {row['ber']:.4f}" for snr, row in metrics.items())
        print(f"  {m['name']:<28} {c.get('model')}, {_training_length(c)}"
              + (f", BER {bers}" if bers else "")
              + ("  (DOES NOT DETECT: " + m["not_detecting"] + ")" if m.get("not_detecting")
                 else "  (usable as a [[detector]] name)"))
    _print_damaged(listing)
    return 0


def _print_damaged(listing):
    for m in listing.get("damaged", []):
        print(f"  DAMAGED {m['name']}: {m['problem']} (not usable until restored)")


def _cmd_bench_detectors(args):
    from kaq_sionna.app.bench.detectors import bench_detectors
    from kaq_sionna.app.bench.tables import format_table, format_wide_table, write_json

    try:
        batches = [int(b) for b in args.batch_sizes.split(",") if b.strip()]
    except ValueError:
        raise UserError(f"--batch-sizes: expected comma-separated integers, found "
                        f"{args.batch_sizes!r}") from None
    args.thread_settings = args.thread_settings or "1,all"
    threads = [t.strip() for t in args.thread_settings.split(",") if t.strip()]
    if not batches or min(batches) < 1:
        raise UserError("--batch-sizes: expected positive integers")
    if not threads or any(t != "all" and not (t.isdigit() and int(t) > 0) for t in threads):
        raise UserError(f"--threads: expected comma-separated positive integers or 'all', "
                        f"found {args.thread_settings!r}")
    repeats = 15 if args.repeats is None else args.repeats
    if repeats < 1 or not args.min_time >= 0 or not args.max_cell_seconds > 0 \
            or not math.isfinite(args.min_time + args.max_cell_seconds):
        raise UserError("--repeats, --max-cell-seconds: expected positive numbers; "
                        "--min-time: >= 0")
    if args.json:
        from kaq_sionna.deploy.export import check_writable

        try:
            check_writable(args.json, "--json")
        except OSError as err:
            raise UserError(str(err)) from None
    models = [m.strip() for m in args.models.split(",")] if args.models else None
    try:
        result = bench_detectors(args.system, batches, threads, repeats, args.min_time,
                                 args.max_cell_seconds, models, xnnpack=not args.no_xnnpack,
                                 stream=sys.stdout)
    except ValueError as err:
        raise UserError(str(err)) from None
    result["command"] = "kaq-sionna " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    print("\n" + format_table(result))
    for t in result["config"]["thread_values"]:
        print("\n" + format_wide_table(result, t))
    if args.json:
        write_json(args.json, result)
        print(f"\nwrote {args.json}")
    return 0


def _cmd_bench(args):
    from kaq_sionna.app.bench.link import bench_link
    from kaq_sionna.app.bench.tables import format_link_table, write_json

    if args.what == "detectors":
        if args.scenario is not None or args.profile:
            raise UserError("bench detectors: expected no scenario and no --profile (those "
                            "are options of bench link)")
        return _cmd_bench_detectors(args)
    if args.what != "link":
        raise UserError(f"bench: expected one of 'link', 'detectors', found {args.what!r}")
    args.repeats = 5 if args.repeats is None else args.repeats
    default_modes = "eager,graph,xla" if args.scenario is None else (
        "graph" if args.profile else "graph,xla")
    modes = [m.strip() for m in (args.modes or default_modes).split(",")]
    bad = [m for m in modes if m not in ("eager", "graph", "xla")]
    if bad:
        raise UserError(f"--modes: expected a comma-separated subset of eager,graph,xla, "
                        f"found {','.join(bad)}")
    if (args.batch_size is not None and args.batch_size < 1) or args.repeats < 1:
        raise UserError("--batch-size and --repeats: expected positive integers")
    if args.json:
        from kaq_sionna.deploy.export import check_writable

        try:
            check_writable(args.json, "--json")
        except OSError as err:
            raise UserError(str(err)) from None
    if args.thread_settings is not None:
        if not (args.thread_settings.isdigit() and int(args.thread_settings) > 0):
            raise UserError(f"--threads: expected one positive integer for bench link, found "
                            f"{args.thread_settings!r}")
        _set_threads(int(args.thread_settings))
    if args.scenario is not None:
        result = _bench_scenario_link(args, modes)
    elif args.profile or args.detectors or args.snr_db is not None:
        raise UserError("--profile, --detectors, --snr-db: expected a scenario "
                        "(kaq-sionna bench link SCENARIO ...)")
    else:
        result = bench_link(batch_size=args.batch_size or 256, repeats=args.repeats,
                            modes=modes, stream=sys.stdout)
        print("\n" + format_link_table(result))
    result["command"] = "kaq-sionna " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    result["config"]["threads"] = args.thread_settings or "TensorFlow default"
    if args.json:
        write_json(args.json, result)
        print(f"\nwrote {args.json}")
    return 0


def _bench_scenario_link(args, modes):
    """``bench link SCENARIO``: seconds per batch per detector and mode, or ``--profile``."""
    from kaq_sionna.app.bench.scenario_link import bench_modes, profile_link
    from kaq_sionna.app.bench.tables import format_modes_table, format_profile_table
    from kaq_sionna.app.scenario import load_scenario

    scenario = load_scenario(args.scenario)
    labels = [d.strip() for d in args.detectors.split(",") if d.strip()] if args.detectors \
        else None
    run, table = (profile_link, format_profile_table) if args.profile else (
        bench_modes, format_modes_table)
    print(f"{'profile' if args.profile else 'modes'} of the {scenario.link_type} link of "
          f"{args.scenario}" + (" (base link, without [harq])" if scenario.harq else ""),
          flush=True)
    try:
        result = run(scenario, modes, args.batch_size, args.snr_db, args.repeats, labels=labels,
                     stream=sys.stdout)
    except ValueError as err:
        raise UserError(str(err)) from None
    c = result["config"]
    print(f"\nbatch size {c['batch_size']}, {c['snr_type']} {c['snr_db']:g} dB, median of "
          f"{c['repeats']} timed calls\n" + table(result))
    return result


def _parse_floats(text, option):
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UserError(f"{option}: expected comma-separated numbers, found {text!r}") from None
    bad = [v for v in values if not math.isfinite(v)]
    if bad:
        raise UserError(f"{option}: expected finite numbers, found {bad[0]!r}")
    if not values:
        raise UserError(f"{option}: expected at least one number")
    return values


def _cmd_export(args):
    from kaq_sionna.core.atomic_io import atomic_write_text
    from kaq_sionna.core.provenance import git_commit
    from kaq_sionna.deploy.check import ber_table, check_export, format_check
    from kaq_sionna.deploy.export import check_writable, export_model, write_model
    from kaq_sionna.deploy.targets import ExportTarget

    if args.check_samples < 1 or args.ber_samples < 1 or args.calibration_samples < 1:
        raise UserError("--check-samples, --ber-samples and --calibration-samples: expected "
                        "positive integers")
    snrs = _parse_floats(args.ber_snr, "--ber-snr") if args.ber else []
    try:  # fail before the conversion, not after
        check_writable(args.out)
        if args.report:
            check_writable(args.report, "--report")
    except OSError as err:
        raise UserError(str(err)) from None
    try:
        target = ExportTarget(args.model, args.part)
    except ValueError as err:
        raise UserError(str(err)) from None
    if args.ber and target.part not in ("detector", "estimation"):
        raise UserError(f"--ber: expected a detector export (part detector or estimation), "
                        f"found part {target.part!r}")
    try:
        target, precision, content = export_model(args.model, args.precision, target=target,
                                                  calibration_samples=args.calibration_samples,
                                                  int8_everywhere=args.int8_everywhere)
    except ValueError as err:
        raise UserError(str(err)) from None
    try:
        write_model(args.out, content)
    except OSError as err:
        raise UserError(f"--out {args.out}: cannot write ({err})") from None
    print(f"wrote {args.out} ({len(content)} bytes): {target.name} [{target.part}] {precision}",
          flush=True)
    report = check_export(target, content, precision, num_samples=args.check_samples,
                          num_threads=args.threads or 1)
    rows = None
    if snrs:
        rows = ber_table(target, content, snrs, num_samples=args.ber_samples,
                         num_threads=args.threads or 1)
        report["ber"] = rows
    report["file"] = str(args.out)
    report["command"] = "kaq-sionna " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    report["commit"] = git_commit()
    print(format_check(report, rows))
    if args.report:
        atomic_write_text(args.report, json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.report}")
    if not report["passed"]:
        print(f"error: the exported model is outside the {precision} tolerance (see above)",
              file=sys.stderr)
        return 1
    return 0


def _cmd_report(args):
    from kaq_sionna.app.reports import report_list, run_report

    if args.list:
        print(report_list())
        print("\noptions of a report: kaq-sionna report NAME --help")
        return 0
    if args.name is None:
        raise UserError("report: expected a report name (kaq-sionna report --list), "
                        "found none")
    return run_report(args.name, args.options)


def _add_execution_args(parser):
    """``--workers``, ``--scheduler`` and ``--threads-per-worker`` (where the units run)."""
    parser.add_argument("--workers", type=int, default=0,
                        help="run on a local Dask cluster of N worker processes (0: in this "
                        "process); the counts equal a serial run's (docs/distributed.md)")
    parser.add_argument("--scheduler", default=None,
                        help="run on an existing Dask cluster: scheduler address "
                        "(tcp://host:8786) or scheduler file")
    parser.add_argument("--threads-per-worker", type=int, default=1,
                        help="TensorFlow threads in each Dask worker (default 1)")


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
    _add_execution_args(run)
    run.set_defaults(func=_cmd_run)

    rp = sub.add_parser("reproduce", help="re-simulate the scenario a results.json records and "
                        "compare the counts point by point (exit 3 if they differ)")
    rp.add_argument("results", help="results/<name>/results.json (or its folder)")
    rp.add_argument("--points", type=int, default=None,
                    help="re-simulate only the first N grid points of each curve")
    rp.add_argument("--out", help="keep the re-run in this folder (default: a temporary "
                    "folder, removed)")
    rp.add_argument("--bit-tolerance", type=int, default=10, help="largest bit-error "
                    "difference at otherwise identical points reported as 'bit errors within "
                    "N' instead of different (LLR sign flips of EP and KAQ detectors, "
                    "results/reruns.md)")
    rp.add_argument("--json", help="also write the comparison as JSON to this file")
    rp.add_argument("--verbose", action="store_true", help="show the re-run's progress table")
    rp.add_argument("--threads", type=int, default=0,
                    help="TensorFlow intra/inter-op threads (0: TensorFlow's default)")
    rp.set_defaults(func=_cmd_reproduce)

    tr = sub.add_parser("train", help="train an unfolded detector, EQ-Net or SDNet "
                        "(resumable; see "
                        "scenarios/README.md, Training scenarios)")
    tr.add_argument("scenario", help="training scenario TOML file")
    tr.add_argument("--quick", action="store_true", help="1 tiny epoch, for smoke tests")
    tr.add_argument("--out", help="output directory (default results/train/<name>[-quick])")
    tr.add_argument("--restart", action="store_true", help="discard an existing checkpoint")
    tr.add_argument("--threads", type=int, default=0,
                    help="TensorFlow intra/inter-op threads (0: TensorFlow's default)")
    tr.add_argument("--ship", action="store_true", help="also save the final model as a "
                    "shipped pretrained model (kaq_sionna/pretrained/models/<name>/, <name> "
                    "from [scenario] name; development checkout only)")
    tr.add_argument("--overwrite", action="store_true", help="--ship: replace a shipped model "
                    "of the same name")
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
    _add_execution_args(hm)

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

    lst = sub.add_parser("list", help="print detectors, links and pretrained models, or "
                         "the learned parameters of one model")
    lst.add_argument("what", nargs="?", help="detectors, links or models (one section), or a "
                     "model name or folder (its learned parameters, describe())")
    lst.add_argument("--system", help="models of one system only, e.g. 4x4-16qam")
    lst.add_argument("--json", action="store_true", help="machine-readable output")
    lst.set_defaults(func=_cmd_list)

    bench = sub.add_parser("bench", help="speed benchmarks (ratios measured in one run)")
    bench.add_argument("what", choices=["link", "detectors"], help="what to benchmark: "
                       "'link' (CodedMIMOLink vs plain Sionna; with a SCENARIO its link per "
                       "detector and mode, or --profile) or 'detectors' (latency and "
                       "memory of detectors in TF and LiteRT, see docs/performance.md)")
    bench.add_argument("scenario", nargs="?", default=None,
                       help="link: a scenario file; time its link per [[detector]] in each of "
                       "--modes (default graph,xla), or --profile it")
    bench.add_argument("--profile", action="store_true",
                       help="link SCENARIO: share of source/encoder, channel, detector and "
                       "decoder in the time of one batch (graph mode unless --modes)")
    bench.add_argument("--detectors", default=None,
                       help="link SCENARIO: comma-separated [[detector]] labels (default: all; "
                       "every [sweep.link_axis] value of each)")
    bench.add_argument("--snr-db", type=float, default=None,
                       help="link SCENARIO: SNR of the measurement (default: the middle of "
                       "the scenario's grid)")
    bench.add_argument("--batch-size", type=int, default=None,
                       help="link: codewords per stream (default 256; with a SCENARIO its "
                       "[sweep] batch_size)")
    bench.add_argument("--repeats", type=int, default=None,
                       help="timed repetitions (default: link 5, detectors 15)")
    bench.add_argument("--modes", default=None, help="link: TF modes (default eager,graph,xla; "
                       "with a SCENARIO graph,xla, with --profile graph)")
    bench.add_argument("--batch-sizes", default="1,16,8192",
                       help="detectors: channel uses per call")
    bench.add_argument("--threads", dest="thread_settings", default=None,
                       help="detectors: thread settings, comma-separated integers or 'all' "
                       "(each runs in its own worker process; default 1,all); link: one "
                       "integer, TensorFlow's intra/inter-op threads (default: TensorFlow's)")
    bench.add_argument("--system", default="4x4-16qam",
                       help="detectors: <ntx>x<nrx>-<M>qam of the shipped models to use")
    bench.add_argument("--models", default=None,
                       help="detectors: comma-separated row names (default: all; "
                       "see kaq_sionna/app/bench/detector_rows.py)")
    bench.add_argument("--max-cell-seconds", type=float, default=60.0,
                       help="detectors: skip a (model, batch) whose timing would take longer")
    bench.add_argument("--min-time", type=float, default=0.02,
                       help="detectors: each timed repetition loops until this many seconds")
    bench.add_argument("--no-xnnpack", action="store_true",
                       help="detectors: LiteRT rows with the builtin kernels only (no XNNPACK)")
    bench.add_argument("--json", help="also write the result as JSON to this file")
    bench.set_defaults(func=_cmd_bench)

    ex = sub.add_parser("export", help="export a shipped model to a LiteRT (TFLite) file and "
                        "check it against the TF model (see docs/deployment.md)")
    ex.add_argument("model", help="pretrained model name (kaq-sionna list)")
    ex.add_argument("--out", required=True, help="output .tflite file")
    ex.add_argument("--precision", default="auto", choices=["auto", "fp32", "fp16", "int8"],
                    help="auto: int8 for models trained with quantized activations, else fp32")
    ex.add_argument("--part", default=None, help="pgdnet/admmnet: detector (default) or "
                    "network (estimate only); eqnet: estimation (default), encoder, decoder")
    ex.add_argument("--calibration-samples", type=int, default=1024,
                    help="int8: channel uses in the representative dataset")
    ex.add_argument("--int8-everywhere", action="store_true",
                    help="int8: also quantize the ops that are kept in float by default "
                    "(soft output, KAQ step, ADMM inverse, ...; see docs/deployment.md)")
    ex.add_argument("--check-samples", type=int, default=2000,
                    help="channel uses on which the export is compared with the TF model")
    ex.add_argument("--ber", action="store_true", help="also measure the uncoded BER of the "
                    "export, its TF twin and the fp32-trained model at --ber-snr")
    ex.add_argument("--ber-snr", default="10,15,20,25", help="Es/N0 points (dB) of --ber")
    ex.add_argument("--ber-samples", type=int, default=20000, help="channel uses per point")
    ex.add_argument("--report", help="also write the check report as JSON to this file")
    ex.add_argument("--threads", type=int, default=0,
                    help="TensorFlow intra/inter-op threads and LiteRT threads (0: TensorFlow's "
                    "default, LiteRT 1 thread)")
    ex.set_defaults(func=_cmd_export)

    rep = sub.add_parser("report", help="regenerate a summary, table or figure that docs/ "
                         "cite from committed results (kaq-sionna report --list)",
                         usage="kaq-sionna report [--list] NAME [options of NAME]")
    rep.add_argument("--list", action="store_true", help="name the reports and what they make")
    rep.add_argument("name", nargs="?", help="report name (see --list)")
    rep.add_argument("options", nargs=argparse.REMAINDER,
                     help="options of the report (kaq-sionna report NAME --help)")
    rep.set_defaults(func=_cmd_report)
    return parser


def main(argv=None):
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl-C during start-up (imports, validation): no traceback
        print("\ninterrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _main(argv=None):
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    from kaq_sionna.core.params import SpecError  # imports TensorFlow quietly

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
    except RunFailed as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
