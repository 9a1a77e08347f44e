"""Output folders of runs: checked before anything is simulated, one run at a time.

* :func:`check_output_dir` fails at once (a :class:`~kaq_sionna.core.params.SpecError` naming
  the folder) when the output path is a file, lies under a file, or cannot be written, instead
  of after the first simulated point.
* :func:`output_lock` holds an OS file lock (``fcntl.flock``) on ``DIR/.kaq-sionna.lock`` for
  the duration of a run: a second run on the same folder (the same scenario, or ``--quick``
  against the full run) is refused with the process id and command of the run in progress. The
  OS releases the lock when the process ends, however it ends (exit, exception, ``kill -9``),
  so a crashed run never blocks the next one. With the lock held, temporary files left by a
  killed run (``.results.json.*.tmp`` of :mod:`kaq_sionna.core.atomic_io`) are removed.
* :func:`guarded_output` wraps a function ``f(scenario, out_dir, ...)`` (e.g.
  :func:`kaq_sionna.app.sweep.run_sweep`) in both.
"""

import fcntl
import functools
import json
import os
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from kaq_sionna.core.params import SpecError

LOCK_NAME = ".kaq-sionna.lock"


def check_output_dir(path, option="--out"):
    """Creates the output folder ``path`` if needed and checks that a file can be written in it.

    Raises
    ------
    SpecError
        Naming ``option`` and the folder: a file is in the way (``path`` or one of its parents),
        or the folder cannot be created or written.
    """
    path = Path(path)
    for parent in [path, *path.parents]:
        if parent.exists() and not parent.is_dir():
            what = "a file" if parent == path else f"a folder under the file {parent}"
            raise SpecError(option, "a folder for the results (a new or existing directory)",
                            what, str(path))
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".write-test.", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise SpecError(option, "a folder the results can be written to",
                        f"{err.strerror or err} ({type(err).__name__})", str(path)) from None
    return path


def clean_stale_temps(path):
    """Removes temporary files an interrupted atomic write left in ``path`` (call with the
    folder's lock held). Returns the names removed."""
    removed = []
    for f in Path(path).glob(".*.tmp"):
        try:
            f.unlink()
            removed.append(f.name)
        except OSError:
            pass
    return removed


def _holder(lock_path):
    try:
        info = json.loads(Path(lock_path).read_text() or "{}")
    except (OSError, ValueError):
        info = {}
    if not isinstance(info, dict):
        info = {}
    text = f"process {info.get('pid', '?')}"
    if info.get("command"):
        text += f" ({info['command']})"
    if info.get("started"):
        text += f", started {info['started']}"
    return text


@contextmanager
def output_lock(path, command=None, option="--out"):
    """Holds the run lock of the output folder ``path`` (checked and created first).

    Raises
    ------
    SpecError
        If another run holds the lock (naming its process), or the folder is unusable.
    """
    path = check_output_dir(path, option)
    lock_path = path / LOCK_NAME
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise SpecError(option, "a folder no other run is writing to",
                            f"a run in progress: {_holder(lock_path)}; wait for it to end, "
                            "or use --out elsewhere", str(path)) from None
        try:  # the holder may have removed the file between our open and our lock
            same = os.stat(lock_path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        info = {"pid": os.getpid(), "command": command or " ".join(sys.argv),
                "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(info).encode())
        clean_stale_temps(path)
        yield path
    finally:
        try:
            os.unlink(lock_path)
        except OSError:
            pass
        os.close(fd)  # releases the lock


def guarded_output(func):
    """Decorator: runs ``func(scenario, out_dir, ...)`` holding :func:`output_lock` of
    ``out_dir`` (so the folder is checked before anything is simulated)."""

    @functools.wraps(func)
    def wrapper(scenario, out_dir, *args, **kwargs):
        with output_lock(out_dir, kwargs.get("command")):
            return func(scenario, out_dir, *args, **kwargs)

    return wrapper


__all__ = ["check_output_dir", "clean_stale_temps", "output_lock", "guarded_output",
           "LOCK_NAME"]
