"""Documents as the commands emit them (--json) and their JSON Schema, both from the typed results.

Every document is a ``results.Document``: its dump is the JSON (strict JSON numbers, ``schema_version``
first among its keys' contract) and ``plan schema`` prints the schema pydantic generates from the same
classes, in serialization mode (what is emitted), unknown keys refused. There is no second shape.
"""
from __future__ import annotations

from typing import Mapping

from estimators.results import SCHEMA_DIALECT, SCHEMA_VERSION, Document


def emitted(document: Document) -> dict:
    """The document as it is printed: plain JSON types."""
    return document.model_dump(mode="json")


def json_schema(model: type[Document]) -> dict:
    """The JSON Schema of one kind of document."""
    return {"$schema": SCHEMA_DIALECT, **model.model_json_schema(mode="serialization")}


def all_schemas(documents: Mapping[str, type[Document]]) -> dict:
    """Every document's schema, keyed by the name ``plan schema`` takes."""
    return {
        "$schema": SCHEMA_DIALECT,
        "title": "videoplan documents",
        "schema_version": SCHEMA_VERSION,
        "documents": {key: model.model_json_schema(mode="serialization") for key, model in documents.items()},
    }
