"""Layer-wise compression machinery shared by the built-in compressors (kick_prune, kick_quant).

A library, not a plugin: it registers no hooks and has no entry point. Its modules:

* `topology` -- the one place that knows architectures: decoder blocks and their Linear layers;
* `calibration` -- calibration text, tokenized and cut into seeded windows, with provenance;
* `sequential` -- block-by-block calibration (input norms or Hessians), compressing as it goes;
* `obs` -- Optimal-Brain-Surgeon helpers (damped Hessian, inverse Cholesky), thread control;
* `checks` -- range checks for the compressors' frozen configs;
* `engine` -- `Plan` and `run_plan` (validate, compress, measure) and `LayerwiseCompressor`.

Importing this package does not import torch; its submodules do.
"""

from __future__ import annotations

NM = tuple[int, int]
"""An N:M pattern: keep N weights in every group of M (as `kick.types.parse_pattern` returns it)."""
