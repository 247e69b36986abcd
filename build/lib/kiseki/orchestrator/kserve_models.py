"""The KServe SDK's typed models (InferenceService and its parts), without its model server.

`import kserve` runs the package's __init__, which imports KServe's own Python model server
and registers its v2 inference protos in protobuf's default pool; tritonclient registers the
same message names from its own files, and the second registration fails ("duplicate symbol
'inference.ServerLiveRequest'"). The typed models need none of that: the package is entered
here without running its __init__; only its models, constants and API client are loaded.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types


def _package_without_init() -> None:
    if "kserve" in sys.modules:
        return
    spec = importlib.util.find_spec("kserve")
    if spec is None or spec.submodule_search_locations is None:
        raise ImportError("the kserve package is not installed (requirements.lock pins it)")
    package = types.ModuleType("kserve")
    package.__path__ = list(spec.submodule_search_locations)
    package.__spec__ = spec
    sys.modules["kserve"] = package


_package_without_init()
_models = importlib.import_module("kserve.models")
_constants = importlib.import_module("kserve.constants.constants")
_api_client = importlib.import_module("kserve.api_client")

V1beta1InferenceService = _models.V1beta1InferenceService
V1beta1InferenceServiceSpec = _models.V1beta1InferenceServiceSpec
V1beta1PredictorSpec = _models.V1beta1PredictorSpec
KSERVE_GROUP: str = _constants.KSERVE_GROUP
KSERVE_PLURAL_INFERENCESERVICE: str = _constants.KSERVE_PLURAL_INFERENCESERVICE


def as_manifest(model: object) -> dict[str, object]:
    """A KServe model as the API server takes it (camelCase, no nulls); kserve's own client
    serialises by each model's attribute map, which the kubernetes client no longer does."""
    manifest: dict[str, object] = _api_client.ApiClient().sanitize_for_serialization(model)
    return manifest
