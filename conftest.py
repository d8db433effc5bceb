"""Loads the conformance suite's plugin and step modules for every run of pytest here.

Step modules are plugins, not star imports, so pytest rewrites their assertions and each failure
shows the values involved.
"""

pytest_plugins = [
    "steps.plugin",
    "steps.common",
    "steps.auth",
    "steps.lists",
    "steps.accounts",
    "steps.users",
]
