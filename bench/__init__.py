"""Benchmarks of grantflow against the Temporal floor on the same server (`make bench`)."""
