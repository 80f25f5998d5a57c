"""Settings are read once and checked: a malformed value or an unknown parameter stops the start."""

from __future__ import annotations

import pytest

from sluice.config import ConfigError, Settings
from sluice_local.server import parameter_overrides
from sluice_local.template import Template


def test_settings_come_from_the_template_environment_names() -> None:
    settings = Settings.from_env({"JOBS_TABLE": "j", "ROWS_PER_CHUNK": "500", "KEY_RATE_LIMIT": "0", "HOME": "/x"})
    assert (settings.jobs_table, settings.rows_per_chunk, settings.key_rate_limit) == ("j", 500, 0)
    assert settings.records_table == "RecordsTable"


@pytest.mark.parametrize(("name", "value"), [("ROWS_PER_CHUNK", "many"), ("ROWS_PER_CHUNK", "0"),
                                             ("RETENTION_DAYS", "-1"), ("JOBS_TABLE", "")])
def test_a_malformed_setting_is_an_error_naming_it(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})


def test_an_unknown_template_parameter_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown template parameter\\(s\\) RowsPerChunkk"):
        Template(parameters=parameter_overrides("RowsPerChunkk=5"))
    assert Template(parameters=parameter_overrides("RowsPerChunk=5")).parameters["RowsPerChunk"] == "5"
