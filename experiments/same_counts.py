"""Compares the counts of two results.json files point by point (e.g. a serial and a
``--workers 2`` run of one scenario), with the comparison ``kaq-sionna reproduce`` uses.

    PYTHONPATH=. python experiments/same_counts.py /tmp/qs-serial/results.json /tmp/qs-w2/results.json
"""

import sys

from kaq_sionna.app.reproduce import compare_curves, summarize
from kaq_sionna.app.results import load_results

if __name__ == "__main__":
    a, b = (load_results(p) for p in sys.argv[1:3])
    verdict, text = summarize(compare_curves(a, b))
    paired = "" if a.get("paired") == b.get("paired") else "; paired statistics differ"
    print(f"{text}{paired}")
    sys.exit(0 if verdict == "identical" and not paired else 3)
