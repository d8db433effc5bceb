"""Schemathesis hooks for the DPaaS document: let stateful runs start with a real login.

Stateful runs follow the document's links (login -> list/create -> refresh), but only from a
login that succeeds, and Schemathesis cannot log in by itself:

- its dependency analysis reads `organization_slug` as a reference to an "Organization" that no
  operation returns, so it never starts a chain at login; `after_load_schema` drops that guess;
- generated credentials are refused (401), so `flatmap_case` offers, beside every positive login
  case, the same case with the credentials of the principal the run authenticates as
  (DPAAS_EMAIL, DPAAS_PASSWORD, DPAAS_ORG). About half of the logins succeed and their links
  are followed. Negative cases are left as generated.

Used by `examples/schemathesis.toml`; the README shows the command.
"""

from __future__ import annotations

import os

import schemathesis
from hypothesis import strategies as st

LOGIN = "POST /authentication/login"


def credentials() -> dict[str, str]:
    return {
        "email": os.environ["DPAAS_EMAIL"],
        "password": os.environ["DPAAS_PASSWORD"],
        "organization_slug": os.environ["DPAAS_ORG"],
    }


@schemathesis.hook
def after_load_schema(context: schemathesis.HookContext, schema: schemathesis.BaseSchema) -> None:
    analysis = schema.analysis

    class LoginStartsChains(type(analysis)):  # type: ignore[misc]
        """The same analysis, minus the Organization guess on login's `organization_slug`."""

        __slots__ = ()

        @property
        def dependency_graph(self):  # type: ignore[no-untyped-def]
            graph = super().dependency_graph
            node = graph.operations.get(LOGIN)
            if node is not None:
                node.inputs = [s for s in node.inputs if s.parameter_name != "organization_slug"]
            return graph

    analysis.__class__ = LoginStartsChains


@schemathesis.hook
def flatmap_case(context: schemathesis.HookContext, case: schemathesis.Case) -> st.SearchStrategy:
    meta = case.meta
    if case.operation.label != LOGIN or meta is None or not meta.generation.mode.is_positive:
        return st.just(case)
    real = case.operation.Case(
        media_type=case.media_type,
        headers=case.headers,
        query=case.query,
        body=credentials(),
    )
    return st.sampled_from([case, real])
