"""The results store: one schema, two clients (chDB embedded, clickhouse-connect for a server)."""

from kiseki.core.store.base import Store, StoreError, StoreUnavailable
from kiseki.core.store.config import StoreConfig
from kiseki.core.store.connect import open_store
from kiseki.core.store.schema import apply_schema

__all__ = ["Store", "StoreConfig", "StoreError", "StoreUnavailable", "apply_schema", "open_store"]
