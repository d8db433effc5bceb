"""The DPaaS conformance suite: step definitions, fixtures and the pytest plugin behind them."""
