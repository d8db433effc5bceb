"""Marks examples/ as a package so that the wheel carries these files (dpaas_conformance.examples):
the principals of the demo server, the form of a config for your own implementation."""
