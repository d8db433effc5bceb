"""The DPaaS conformance suite's step definitions, one module per domain (the library is
`dpaas_conformance`)."""
