"""``python -m kaq_sionna`` is the ``kaq-sionna`` command."""

from kaq_sionna.app.cli import main

raise SystemExit(main())
