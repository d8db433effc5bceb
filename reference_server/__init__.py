"""DPaaS reference server: an aiohttp + TinyDB implementation of the conformance profile."""

__all__ = ["__version__"]

__version__ = "0.1.0"
