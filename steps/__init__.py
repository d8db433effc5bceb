"""The DPaaS conformance suite: step definitions, one module per domain, and beside them the
library they use (`steps/library/`: the pytest plugin, the HTTP client, the target, the requirement
registry, the schemas, the verdict and the embedded server)."""
