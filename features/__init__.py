"""The feature files, shipped in the wheel as package data of `dpaas_conformance.features`.

This marker is all the Python here: it lets the installed suite (and an editable checkout) find
the Gherkin by import, wherever it is installed (see `dpaas_conformance.library.paths`).
"""
