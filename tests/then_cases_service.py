"""The right and wrong answers of the SERVICE Then steps (service accounts, keys, signing), merged
into `tests/test_then_steps.py`'s CASES, which checks every Then step of the suite.

`service_cases(h)` takes that module (`h`) for its helpers (responses, mock targets, principals),
so that this one stays a plain module of cases.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from dpaas_conformance import api_keys, service_accounts, signing
from dpaas_conformance.library.calls import Created
from dpaas_conformance.library.service import Key, ServiceAccount, TargetTime
from dpaas_conformance.library.target import Config, ServiceKey, Target


def sa(n: int = 1, org: str = "o1", **fields: Any) -> dict[str, Any]:
    stamp = f"2025-09-30T10:00:{n:02d}Z"
    return {"id": f"s{n}", "name": f"SA {n}", "description": None, "account_id": "a1",
            "organization_id": org, "is_active": True, "metadata": {}, "created_at": stamp,
            "updated_at": stamp, "last_used_at": None, **fields}


def key_item(n: int = 1, **fields: Any) -> dict[str, Any]:
    stamp = f"2025-09-30T10:00:{n:02d}Z"
    return {"id": f"k{n}", "access_key": f"ak{n}", "description": None,
            "service_account_id": "s1", "expires_at": None, "is_active": True,
            "created_at": stamp, "last_used_at": None, **fields}


def key(n: int = 1, by: str = "admin", owner: str = "s1") -> Key:
    return Key(by, owner, f"ak{n}", f"sk_secret_{n}_xxxxxxxxxxxxxxxx", f"k{n}")


CLOCK = TargetTime(None, 0.0)


def service_cases(h: ModuleType) -> dict[Any, Any]:
    Case, resp, error, api, answers, page = h.Case, h.resp, h.error, h.api, h.answers, h.page
    account, walk_of, ACTORS, BOTH = h.account, h.walk_of, h.ACTORS, h.BOTH
    target_v2 = h.TARGET_V2

    def logs_in(**routes: Any) -> Any:
        return api({"POST /authentication/login": answers(200, h.TOKENS), **routes})

    def lists(body: Any, status: int = 200) -> Any:
        return api({"GET /service-accounts": answers(status, body)})

    mine = (ServiceAccount("admin", sa(1)),)
    theirs = (ServiceAccount("other", sa(7, org="o2", name="Secret SA")),)
    created = (ServiceAccount("admin", sa(1)), ServiceAccount("admin", sa(2)))
    by_account = (ServiceAccount("admin", sa(1)), ServiceAccount("admin", sa(2)),
                  ServiceAccount("admin", sa(3, account_id="a2")))
    reader = Target("http://t.test", Config(principals=target_v2.config.principals,
                                            service_keys={"reader": ServiceKey(
                                                "reader", "akr", "sk_reader_xxxxxxxx", "s1")}))
    two_keys = (key(1), key(2))
    new = {"access_key": "ak1", "secret_key": "sk_x", "expires_at": "2030-01-01T00:00:00Z"}
    return {
        # --- service accounts
        service_accounts.is_new_service_account: Case(
            {"response": resp(201, sa(1), sent={"name": "SA 1", "account_id": "a1"})},
            {"response": resp(201, sa(1, is_active=False),
                              sent={"name": "SA 1", "account_id": "a1"})},
            {"api": api({"GET /accounts": answers(200, page([account(1)]))}),
             "actors": ACTORS}),
        service_accounts.in_the_list: Case(
            {"api": lists(page([sa(1)]))}, {"api": lists(page([sa(2)]))},
            {"actors": ACTORS, "response": resp(201, sa(1))}),
        service_accounts.refused_naming_or_404: Case(
            {"response": error(422, "ValidationError", account_id=["no"])},
            {"response": error(422, "ValidationError", name=["no"])}, {"field": "account_id"}),
        service_accounts.none_for_that_account: Case(
            {"api": lists(page([sa(1)]))}, {"api": lists(page([sa(1, account_id="a7")]))},
            {"actors": BOTH, "response": resp(
                422, {"error": "ValidationError", "message": "m", "details": {}},
                sent={"name": "x", "account_id": "a7"})}),
        service_accounts.list_of_service_accounts: Case(
            {"response": resp(200, page([sa(1)]))}, {"response": resp(200, page([{"id": "s1"}]))}),
        service_accounts.newest_first: Case(
            {"response": resp(200, page([sa(2), sa(1)]))},
            {"response": resp(200, page([sa(1), sa(2)]))},
            {"actors": ACTORS, "service_accounts": created}),
        service_accounts.walk_once_in_order: Case(
            {"walk": walk_of([sa(1), sa(2)], "service-accounts")},
            {"walk": walk_of([sa(1)], "service-accounts")},
            {"service_accounts": created, "order": "created_at"}),
        service_accounts.exactly_that_account: Case(
            {"walk": walk_of([sa(1), sa(2)], "service-accounts", total=2)},
            {"walk": walk_of([sa(1), sa(2), sa(3, account_id="a2")], "service-accounts",
                             total=3)},
            {"service_accounts": by_account, "created": (Created("admin", account(1)),),
             "actors": ACTORS}),
        service_accounts.no_key_material: Case(
            {"responses": [resp(200, sa(1)), resp(200, page([sa(1)]))]},
            {"responses": [resp(200, sa(1, secret_hash="ab12")), resp(200, page([sa(1)]))]},
            {"keys": (key(1),)}),
        service_accounts.read_is_created: Case(
            {"response": resp(200, sa(1))}, {"response": resp(200, sa(1, account_id="a9"))},
            {"service_accounts": mine, "actors": ACTORS}),
        service_accounts.sa_leaks_nothing: Case(
            {"response": error(404, "NotFound")},
            {"response": resp(404, {"error": "NotFound", "message": "Secret SA"})},
            {"service_accounts": theirs, "name": "other"}),
        service_accounts.sa_unchanged: Case(
            {"api": api({"GET /service-accounts/s7": answers(200, sa(7, org="o2",
                                                                     name="Secret SA"))})},
            {"api": api({"GET /service-accounts/s7": answers(200, sa(7, org="o2",
                                                                     name="Renamed"))})},
            {"actors": BOTH, "service_accounts": theirs, "name": "other"}),
        service_accounts.left_out: Case(
            {"api": lists(page([sa(2)]))}, {"api": lists(page([sa(1, is_active=False)]))},
            {"actors": ACTORS, "service_accounts": mine, "deactivated": "PATCH"}),
        service_accounts.shown_with: Case(
            {"api": lists(page([sa(1, is_active=False)]))}, {"api": lists(page([sa(1)]))},
            {"actors": ACTORS, "service_accounts": mine, "query": "include_inactive=true"}),
        service_accounts.service_accounts_still_read: Case(
            {"api": logs_in(**{"GET /service-accounts": answers(200, page([sa(1)])),
                               "GET /service-accounts/s1": answers(200, sa(1))})},
            {"api": logs_in(**{"GET /service-accounts": answers(200, page([sa(1)])),
                               "GET /service-accounts/s1": answers(500, {"error": "X",
                                                                         "message": "m"})})},
            {"actors": ACTORS, "target": h.TARGET, "response": resp(201, sa(1))}),
        # --- keys
        api_keys.holds_key: Case(
            {"response": resp(201, new, sent={"expires_at": "2030-01-01T00:00:00+00:00"})},
            {"response": resp(201, {**new, "expires_at": None},
                              sent={"expires_at": "2030-01-01T00:00:00+00:00"})}),
        api_keys.new_key_works: Case(
            {"api": api({"GET /accounts": answers(403, {"error": "Forbidden", "message": "m"})})},
            {"api": api({"GET /accounts": answers(401, {"error": "Unauthorized",
                                                        "message": "m"})})},
            {"response": resp(201, new), "target_time": CLOCK}),
        api_keys.expiry_null_or_future: Case(
            {"response": resp(201, {**new, "expires_at": None})},
            {"response": resp(201, {**new, "expires_at": "2001-01-01T00:00:00Z"})},
            {"target_time": CLOCK}),
        api_keys.holds_id: Case({"response": resp(201, {**new, "id": "k1"})},
                                {"response": resp(201, new)}),
        api_keys.secret_never_shown: Case(
            {"responses": [resp(200, page([key_item(1)]))]},
            {"responses": [resp(200, page([key_item(1, note=str(key(1).secret_key))]))]},
            {"keys": (key(1),)}),
        api_keys.key_used: Case(
            {"response": resp(200, page([key_item(1, last_used_at=h.LATER)]))},
            {"response": resp(200, page([key_item(1)]))}, {"keys": (key(1),)}),
        api_keys.reader_used: Case(
            {"api": api({"GET /service-accounts/s1": answers(200, sa(1,
                                                                     last_used_at=h.LATER))})},
            {"api": api({"GET /service-accounts/s1": answers(200, sa(1))})},
            {"target": reader, "actors": ACTORS}),
        api_keys.list_of_keys: Case(
            {"response": resp(200, page([key_item(2), key_item(1)]))},
            {"response": resp(200, page([key_item(1), key_item(2)]))}, {"keys": two_keys}),
        api_keys.first_refused: Case(
            {"api": api({"GET /accounts": answers(401, {"error": "Unauthorized",
                                                        "message": "m"})})},
            {"api": api({"GET /accounts": answers(200, page([]))})},
            {"keys": two_keys, "target_time": CLOCK}),
        api_keys.second_works: Case(
            {"api": api({"GET /accounts": answers(200, page([]))})},
            {"api": api({"GET /accounts": answers(401, {"error": "Unauthorized",
                                                        "message": "m"})})},
            {"keys": two_keys, "target_time": CLOCK}),
        api_keys.revoked_listed: Case(
            {"api": api({"GET /service-accounts/s1/keys": answers(
                200, page([key_item(1, is_active=False)]))})},
            {"api": api({"GET /service-accounts/s1/keys": answers(200, page([key_item(1)]))})},
            {"target": h.TARGET, "actors": ACTORS, "keys": two_keys}),
        api_keys.refused_401_403: Case({"response": error(403, "Forbidden")},
                                       {"response": resp(200, page([]))}),
        api_keys.keys_distinct: Case({"keys": two_keys}, {"keys": (key(1), key(1))}),
        api_keys.foreign_refused: Case(
            {"responses": [error(404, "NotFound")] * 3},
            {"responses": [error(404, "NotFound"), resp(200, page([key_item(7,
                                                                            access_key="ak7")])),
                           error(404, "NotFound")]},
            {"keys": (key(7, by="other", owner="s7"),)}),
        api_keys.foreign_key_intact: Case(
            {"api": api({"GET /accounts": answers(200, page([])),
                         "GET /service-accounts/s7/keys": answers(
                             200, page([key_item(7, access_key="ak7")]))})},
            {"api": api({"GET /accounts": answers(200, page([])),
                         "GET /service-accounts/s7/keys": answers(
                             200, page([key_item(8, access_key="ak8"),
                                        key_item(7, access_key="ak7")]))})},
            {"target": h.TARGET, "actors": BOTH, "keys": (key(7, by="other", owner="s7"),),
             "service_accounts": theirs, "target_time": CLOCK}),
        api_keys.each_error: Case(
            {"responses": [error(403, "Forbidden")] * 2},
            {"responses": [error(403, "Forbidden"), resp(201, new)]},
            {"error": "Forbidden", "status": 403}),
        api_keys.admin_key_works: Case(
            {"api": api({"GET /accounts": answers(200, page([]))})},
            {"api": api({"GET /accounts": answers(401, {"error": "Unauthorized",
                                                        "message": "m"})})},
            {"keys": (key(1),), "target_time": CLOCK}),
        api_keys.keys_still_read: Case(
            {"api": logs_in(**{"GET /service-accounts/s1/keys": answers(200, page([])),
                               "GET /service-accounts": answers(200, page([sa(1)]))})},
            {"api": logs_in(**{"GET /service-accounts/s1/keys": answers(500, {"error": "X",
                                                                              "message": "m"}),
                               "GET /service-accounts": answers(200, page([sa(1)]))})},
            {"target": h.TARGET, "actors": ACTORS, "service_accounts": mine}),
        # --- signed requests
        signing.fate_of: Case({"response": error(401, "Unauthorized")},
                              {"response": resp(200, page([]))}, {"fate": "refused"}),
        signing.none_401: Case({"responses": [resp(200, page([])), error(403, "Forbidden")]},
                               {"responses": [resp(200, page([])),
                                              error(401, "Unauthorized")]}),
        signing.success_or: Case({"response": error(403, "Forbidden")},
                                 {"response": error(403, "AccessDenied")},
                                 {"error": "Forbidden", "status": 403}),
        signing.identical: Case(
            {"responses": [error(401, "Unauthorized")] * 2},
            {"responses": [error(401, "Unauthorized"),
                           resp(401, {"error": "Unauthorized", "message": "unknown key"})]}),
        signing.first_then_401: Case(
            {"responses": [resp(200, page([])), error(401, "Unauthorized")]},
            {"responses": [resp(200, page([])), resp(200, page([]))]}),
        signing.first_403_then_401: Case(
            {"responses": [error(403, "Forbidden"), error(401, "Unauthorized")]},
            {"responses": [error(403, "Forbidden"), error(403, "Forbidden")]}),
        signing.one_copy: Case(
            {"responses": [resp(200, page([]))] + [error(401, "Unauthorized")] * 7},
            {"responses": [resp(200, page([]))] * 2 + [error(401, "Unauthorized")] * 6}),
        signing.items_in_org: Case(
            {"signed_items": [account(2)]}, {"signed_items": [account(9, org="o2")]},
            {"api": api({"GET /accounts": answers(200, page([account(1)]))}),
             "actors": ACTORS, "target": target_v2}),
    }
