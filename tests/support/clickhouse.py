"""The password user the tests' ClickHouse server knows besides the passwordless default."""

CLICKHOUSE_USERS = {"kiseki": "kiseki-test-pw"}
