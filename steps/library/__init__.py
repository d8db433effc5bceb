"""The DPaaS conformance suite's library: the pytest plugin, the HTTP client, the target and its
configuration, the requirement registry, the schemas, the verdict and the embedded server.

The step definitions that use it are the modules of `steps/` around this package.
"""
