"""The application layer: scenarios, the sweep engine, results files, reports, benchmarks and the
``kaq-sionna`` command. It imports the library (:mod:`kaq_sionna`'s other subpackages) and the
links (:mod:`links`); nothing imports it."""
