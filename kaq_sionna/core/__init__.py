"""The core layer: parameter validation and its errors, atomic file writes, provenance, seeding
and the quiet TensorFlow import. It imports nothing else of kaq_sionna, and everything else may
import it."""
