"""``kaq-sionna report NAME``: the summaries, tables and figures that docs/ cite, regenerated
from committed results.

One module per report (:data:`REPORTS`), each with ``NAME``, a docstring whose first line
says what it makes, ``add_arguments(parser)`` (its options) and ``run(args, provenance)``
(a :class:`~.common.Provenance`: the command and the commit); shared
helpers in :mod:`~kaq_sionna.app.reports.common`. Every summary JSON a report writes is written
atomically and records ``command`` (the exact CLI command) and ``commit`` (the git commit of the
code). A file a report needs and cannot read is a :class:`~.common.ReportError` naming it.
"""

import argparse
import shlex

from kaq_sionna.app.reports import (
    eqnet,
    eqnet_fig4,
    kaq,
    links,
    provenance,
    quant_cost,
    snr_table,
    training_curves,
)
from kaq_sionna.app.reports.common import Provenance, ReportError

#: Report name -> module, in the order ``kaq-sionna report --list`` prints them.
REPORTS = {m.NAME: m for m in (kaq, eqnet, eqnet_fig4, links, snr_table, quant_cost,
                                training_curves, provenance)}

__all__ = ["REPORTS", "ReportError", "report_parser", "run_report", "report_list"]


def summary_line(module):
    """First line of a report module's docstring."""
    return module.__doc__.strip().splitlines()[0]


def report_list():
    """``name: what it makes`` per report, one a line."""
    width = max(len(n) for n in REPORTS)
    return "\n".join(f"{name:<{width}}  {summary_line(m)}" for name, m in REPORTS.items())


def report_parser(name):
    """The argument parser of report ``name`` (``kaq-sionna report NAME --help``)."""
    module = REPORTS[name]
    parser = argparse.ArgumentParser(prog=f"kaq-sionna report {name}",
                                     description=module.__doc__.strip().split("\n\n")[0],
                                     epilog=_epilog(module),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    module.add_arguments(parser)
    return parser


def _epilog(module):
    doc = module.__doc__.strip()
    return doc.split("\n\n", 1)[1] if "\n\n" in doc else None


def run_report(name, argv):
    """Runs report ``name`` with its options ``argv`` (a list of strings).

    Raises
    ------
    ReportError
        Unknown report, or an input file that is missing or unreadable.
    SystemExit
        From the report's argument parser (bad options: exit code 2; ``--help``: 0).
    """
    if name not in REPORTS:
        raise ReportError("report", "one of " + ", ".join(REPORTS)
                          + " (kaq-sionna report --list)", repr(name))
    args = report_parser(name).parse_args(argv)
    command = " ".join(["kaq-sionna", "report", name, *(shlex.quote(a) for a in argv)])
    return REPORTS[name].run(args, Provenance.now(command))
