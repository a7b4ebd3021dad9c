"""Property-based fuzzing of the OpenAPI schema (schemathesis + hypothesis) against a real `altgen serve`.

The property: whatever a client sends that the schema allows, or breaks on purpose, the server
never answers with an unexpected 5xx, and every JSON error body carries an ``error`` message.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from altgen.api.app import create_app
from altgen.settings import Settings
from test_end_to_end import start_server

OPERATIONS = [
    f"{method.upper()} {path}"
    for path, methods in create_app(Settings(devices="cpu")).openapi()["paths"].items()
    for method in methods
]


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory):
    process, base = start_server(tmp_path_factory.mktemp("fuzz") / "server.log", "--max-batch-wait-ms", "2")
    try:
        yield schemathesis.openapi.from_url(f"{base}/openapi.json")
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.mark.parametrize("label", OPERATIONS)
def test_no_server_errors(api_schema, label):
    operation = api_schema.find_operation_by_label(label)

    @given(case=operation.as_strategy())
    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case):
        response = case.call(timeout=60)
        case.validate_response(response, checks=[not_a_server_error])
        content_type = (response.headers.get("content-type") or [""])[0]
        if response.status_code >= 400 and content_type.startswith("application/json"):
            assert "error" in response.json(), response.text

    check()
