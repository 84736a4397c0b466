"""Property-based fuzzing of every operation of the app's OpenAPI document
(schemathesis + hypothesis): with a valid bearer token no input, valid or
invalid, may cause a 5xx, and every error answer uses the error envelope (OpenAI's
error object under ``/oai/v1``).

(Schemathesis' lazy pytest integration does not work with pytest 9 here, so
the test walks the operations itself.)
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from personas_as_code.catalogue.api import PersonaCreate
from personas_as_code.catalogue.db import make_engine
from personas_as_code.catalogue.embedded import EmbeddedCatalogue
from personas_as_code.catalogue.rest import create_app
from schemathesis import GenerationMode

from tests.catalogue.conftest import make_key

MAX_EXAMPLES = 20
_SETTINGS = settings(
    max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
)


def _check(case: schemathesis.Case, key: str) -> None:
    response = case.call(headers={"Authorization": f"Bearer {key}"})
    where = f"{case.method} {case.formatted_path}"
    documented = where.endswith("/scaidrive/shares") and response.status_code == 503
    assert response.status_code < 500 or documented, (where, response.status_code, response.text)
    if response.status_code >= 400 and case.path.startswith("/oai/"):
        error = response.json()["error"]  # OpenAI's error object, as its clients expect
        assert set(error) == {"message", "type", "param", "code"}, (where, error)
        assert isinstance(error["message"], str) and isinstance(error["code"], str), where
    elif response.status_code >= 400:
        body = response.json()
        assert isinstance(body["error"]["code"], str), (where, body)
        assert body["meta"]["request_id"].startswith("req_"), (where, body)


def test_every_operation_without_server_errors(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        app = create_app(engine)
        key = make_key(engine, "acme")
        EmbeddedCatalogue(engine, "acme").create_persona(
            PersonaCreate(name="Existing", model_slug="scaigrid/gpt-4o")
        )
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 15
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

                @_SETTINGS
                @given(case=operation.as_strategy(generation_mode=mode))
                def fuzz(case: schemathesis.Case) -> None:
                    _check(case, key)

                try:
                    fuzz()
                except Unsatisfiable:
                    # nothing invalid to generate (e.g. no parameters at all)
                    assert mode is GenerationMode.NEGATIVE, operation.label
    finally:
        engine.dispose()
