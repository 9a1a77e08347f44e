"""``python -m kaq_sionna`` is the ``kaq-sionna`` command."""

from kaq_sionna.cli import main

raise SystemExit(main())
