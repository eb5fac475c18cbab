"""Fuzz the API from its own OpenAPI document: no 5xx, no response that breaks the schema.

Schemathesis generates requests for every operation (valid and invalid
parameters and bodies) against a real uvicorn server on 127.0.0.1 over the
ingested demo corpus, and checks each response's status code, content type
and body against what the document declares.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from apiserver import ingest_demo, running_app
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.slow
MAX_EXAMPLES = 40

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def api_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings_, _ = ingest_demo(tmp_path_factory.mktemp("fuzz") / "data")
    with running_app(settings_) as url:
        yield url


def _operations(url: str) -> list[Any]:
    schema = schemathesis.openapi.from_url(f"{url}/api/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


def _fuzz(operation: Any, mode: GenerationMode) -> bool:
    """Up to MAX_EXAMPLES generated requests for one operation, each checked.

    False when the operation has nothing to make invalid (no parameters, no
    body): negative generation cannot produce a case for it.
    """

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case: Any) -> None:
        case.call_and_validate(checks=CHECKS)

    try:
        run()
    except Unsatisfiable:
        if mode is GenerationMode.NEGATIVE:
            return False
        raise
    return True


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_conforms_to_its_openapi_document(api_url: str, mode: GenerationMode) -> None:
    operations = _operations(api_url)
    assert len(operations) >= 9
    fuzzed = [op.label for op in operations if _fuzz(op, mode)]
    if mode is GenerationMode.POSITIVE:
        assert len(fuzzed) == len(operations)
    else:  # string path parameters and parameterless routes have no invalid form
        assert {"GET /api/search", "GET /api/export", "POST /api/rules"} <= set(fuzzed)
