"""The sink's settings fail fast on a value that cannot work, naming the variable."""

import pytest

from kiseki.core.config import ConfigError, load_config
from kiseki.sink.config import SinkConfig


@pytest.mark.parametrize("alpha", ["0", "1.5", "-0.1"])
def test_a_regression_alpha_outside_zero_and_one_is_refused(alpha: str) -> None:
    with pytest.raises(ConfigError, match="KISEKI_REGRESSION_ALPHA"):
        load_config(SinkConfig, {"KISEKI_REGRESSION_ALPHA": alpha})


def test_the_regression_alpha_defaults_to_the_reports() -> None:
    assert load_config(SinkConfig, {}).regression_alpha == 0.05
    assert load_config(SinkConfig, {"KISEKI_REGRESSION_ALPHA": "0.01"}).regression_alpha == 0.01


@pytest.mark.parametrize("size", ["0", "-1"])
def test_a_partition_fetch_below_one_byte_is_refused(size: str) -> None:
    with pytest.raises(ConfigError, match="KISEKI_SINK_PARTITION_FETCH_BYTES"):
        load_config(SinkConfig, {"KISEKI_SINK_PARTITION_FETCH_BYTES": size})
