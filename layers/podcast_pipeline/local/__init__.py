"""Local mode: the pipeline on an embedded AWS emulation (moto's server on a loopback port)."""
