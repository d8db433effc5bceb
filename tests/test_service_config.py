"""SERVICE's configuration: `[paths]` and `[service_keys.reader]`, typed and checked at load."""

from __future__ import annotations

from pathlib import Path

import pytest
from dpaas_conformance.library.target import DEFAULT_PATHS, ConfigError, load_config

from tests.test_classes import CONFIG


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dpaas.toml"
    path.write_text(CONFIG + text)
    return path


def test_paths_default_to_the_profile_and_take_the_targets_own(tmp_path: Path) -> None:
    default = load_config(write(tmp_path, "")).paths
    revoke = default.of("key_revoke", id="sa 1", key_id="k/2")
    assert revoke == "/service-accounts/sa%201/keys/k%2F2"
    assert {n: getattr(default, n) for n in DEFAULT_PATHS} == DEFAULT_PATHS
    own = load_config(write(tmp_path, '[paths]\nkey_issue = "/sa/{id}/api-keys"\n')).paths
    assert own.of("key_issue", id="x") == "/sa/x/api-keys"
    assert own.key_list == DEFAULT_PATHS["key_list"]


def test_the_reader_key_is_read_and_its_secret_masked(tmp_path: Path) -> None:
    loaded = load_config(write(tmp_path, '[service_keys.reader]\naccess_key = "sa_1"\n'
                                         'secret_key = "sk_live_abcdefghijkl"\n'
                                         'service_account_id = "s-1"\n'))
    reader = loaded.service_keys["reader"]
    assert (reader.access_key, reader.secret_key, reader.service_account_id) == (
        "sa_1", "sk_live_abcdefghijkl", "s-1")
    assert "abcdefghijkl" not in repr(reader)


@pytest.mark.parametrize(("text", "message"), [
    ('[paths]\nkey_lists = "/x/{id}"\n', "unknown keys"),
    ('[paths]\nkey_issue = "sa/{id}/keys"\n', "starting with /"),
    ('[paths]\nkey_revoke = "/sa/{id}/keys"\n', "must hold {key_id}"),
    ('[service_keys.writer]\naccess_key = "a"\nsecret_key = "b"\n', "unknown key"),
    ('[service_keys.reader]\naccess_key = "a"\n', "non-empty strings"),
    ('[service_keys.reader]\naccess_key = "a"\nsecret_key = "b"\ncolour = 1\n', "unknown keys"),
])
def test_a_wrong_service_table_is_a_configuration_error(tmp_path: Path, text: str,
                                                        message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, text))
