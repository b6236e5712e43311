"""Benchmarks: load on the services, and the regulator's verify/replay throughput."""
