"""kiseki: evaluate every checkpoint of a pretraining run and keep the trajectory in ClickHouse."""

__version__ = "0.1.0"
