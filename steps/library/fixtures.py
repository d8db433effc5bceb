"""The fixtures every scenario stands on: the `target` under test and the `api` client.

Without --base-url the target is the reference server, embedded in this process with a clock the
suite controls (or, for the mutation harness, each embedded variant in turn).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from dpaas_conformance.library import classes, limits, turns
from dpaas_conformance.library.client import ApiClient
from dpaas_conformance.library.embedded import ManualClock, ServedApp
from dpaas_conformance.library.issued import FILE_NAME as ISSUED_FILE
from dpaas_conformance.library.issued import IssuedKeys
from dpaas_conformance.library.run import CLIENT, TARGET, run_of
from dpaas_conformance.library.scenario import identity
from dpaas_conformance.library.startup import resolve_config
from dpaas_conformance.library.target import ConfigError, Target


@pytest.fixture(scope="session")
def dpaas_variant(request: pytest.FixtureRequest) -> str | None:
    """The embedded variant this scenario runs against, else None."""
    return getattr(request, "param", None)


@pytest.fixture(scope="session")
def target(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    dpaas_variant: str | None,
) -> Iterator[Target]:
    """Everything a step needs to know about the implementation under test."""
    run = run_of(request.config)
    try:
        loaded = run.config or resolve_config(run.options)
    except ConfigError as exc:  # only on xdist workers; the controller stopped the run already
        raise pytest.UsageError(str(exc)) from exc
    if run.options.base_url:
        yield Target(run.options.base_url, loaded)
        return
    from reference_server.app import create_app
    from reference_server.config import Settings
    from reference_server.tokens import KEY_FILE

    clock = ManualClock()
    data_dir = tmp_path_factory.mktemp(f"dpaas-{dpaas_variant or 'reference'}")
    # Fast test-only argon2 parameters (the server refuses them without the switch): the
    # scenarios log in some four hundred times, and how a password is hashed is the server's
    # own tests' business (tests/test_server_*), not the conformance verdict's.
    settings = Settings(data_dir=data_dir, demo=True, clock=clock, argon2_time_cost=1,
                        argon2_memory_cost=8, allow_weak_password_hashing=True)
    variant = None if dpaas_variant is None else run.variants[dpaas_variant]
    make_app = create_app if variant is None else variant.make_app
    # A variant that serves SERVICE at other paths names them, as a config's [paths] would.
    reconfigure = getattr(variant, "suite_config", None)
    if reconfigure is not None:
        loaded = reconfigure(loaded)
    served = ServedApp(lambda: make_app(settings))
    with served as url:
        # The suite holds the embedded server's key, as a config's [keys] would give it.
        yield Target(url, replace(loaded, signing_key=data_dir / KEY_FILE), clock, dpaas_variant,
                     restart=served.restart)


@pytest.fixture(scope="session")
def issued_keys(request: pytest.FixtureRequest, target: Target,
                tmp_path_factory: pytest.TempPathFactory) -> IssuedKeys:
    """The keys the target issued this run (KEY-2, KEY-8): shared by the xdist workers of one
    run when they share one target (each worker has its own embedded server)."""
    shared = target.clock is None and hasattr(request.config, "workerinput")
    path = tmp_path_factory.getbasetemp().parent / ISSUED_FILE if shared else None
    return IssuedKeys(path, configured=[k.secret_key for k in
                                        target.config.service_keys.values()])


@pytest.fixture
def api(request: pytest.FixtureRequest, target: Target, issued_keys: IssuedKeys
        ) -> Iterator[ApiClient]:
    client = ApiClient(target.base_url, passwords=target.passwords,
                       limits=limits.from_config(request.config), issued=issued_keys)
    request.node.stash[CLIENT] = client
    request.node.stash[TARGET] = target
    yield client
    client.close()
    if target.clock is not None:
        target.clock.reset()  # a scenario that moved time moves it back


@pytest.fixture
def dpaas_scenario(
    request: pytest.FixtureRequest, target: Target, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """What every scenario needs before its first step: its class claimed by the target, else not
    run; and its turn, exclusive for the scenarios that delete accounts or change the default
    account, when xdist workers share one target."""
    found = identity(request.node)
    if found is None:
        yield
        return
    if found.cls not in target.config.classes:
        pytest.skip(classes.not_run_reason(found.cls, target.config.source))
    shared = target.clock is None and hasattr(request.config, "workerinput")
    lock = tmp_path_factory.getbasetemp().parent / turns.LOCK_NAME if shared else None
    with turns.turn(lock, exclusive=turns.alone(found.requirements)):
        yield
