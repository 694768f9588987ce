"""A simulated My Number card: product code for demos, clerk training and tests.

Served in process (``drivers.sim.transport``) or to pcscd through vpcd (``drivers.sim.vpicc``).
"""
