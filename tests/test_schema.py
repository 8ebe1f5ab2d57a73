"""`plan schema`: the JSON Schema of every document the commands emit validates those documents;
every document carries schema_version; numbers are JSON numbers; keys other parts add are tolerated."""
import json

import jsonschema
import pytest
from typer.testing import CliRunner

from estimators.documents.schema import SCHEMA_VERSION, EstimateDocument, emitted
from plan_cli.main import app

runner = CliRunner()
EMITTED = {
    "estimate": [
        ("estimate", "--gpus", "H100x64"),
        ("estimate", "--gpus", "H100x64", "--online-text", "--stage", "name=240p,height=240,width=432,frames=85,steps=100",
         "--stage", "name=480p,steps=50"),
        ("estimate", "--gpus", "H100x64", "--layout", "tp=1,pp=1,cp=8,dp=8,zero=2,micro_batch=1,recompute=none"),
    ],
    "estimate-deadline": [
        ("estimate", "--gpus", "H100,B200", "--deadline-days", "30", "--max-gpus", "64"),
        ("estimate", "--gpus", "H100", "--deadline-days", "1", "--max-gpus", "16"),
    ],
    "simulate": [("simulate", "--gpus", "H100x64", "--runs", "10")],
}


def command_json(args) -> dict:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def schema_of(name: str) -> dict:
    result = runner.invoke(app, ["schema", name])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def numeric_strings(value, path="") -> list[str]:
    """Paths of string values that are numbers in disguise ('8.42')."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in numeric_strings(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in numeric_strings(v, f"{path}[{i}]")]
    if isinstance(value, str):
        try:
            float(value.replace(",", ""))
        except ValueError:
            return []
        return [path]
    return []


@pytest.mark.parametrize("name,args", [(name, args) for name, runs in EMITTED.items() for args in runs])
def test_schema_validates_every_emitted_document(name, args):
    doc = command_json(args)
    jsonschema.validate(doc, schema_of(name))
    assert doc["schema_version"] == SCHEMA_VERSION
    assert numeric_strings(doc) == []


def test_schema_rejects_numbers_as_strings_and_missing_contract_keys():
    doc = command_json(EMITTED["estimate"][0])
    schema = schema_of("estimate")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**doc, "step_time_s": "8.42"}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({k: v for k, v in doc.items() if k != "cost_usd"}, schema)


def test_documents_tolerate_keys_other_parts_add():
    doc = command_json(EMITTED["estimate"][0])
    grown = {
        **doc,
        "uncertainty": {"step_time_s": {"low": 1.0, "high": 2.0, "basis": "residuals"}},
        "warnings": ["attention kernel assumed"],
        "dominant": {"part": "attention_s", "share": 0.63},
        "params": {**doc["params"], "params_vs_published": {"dit": 1.0}},
        "cluster": {**doc["cluster"], "kernel": "flash-attention-3"},
    }
    out = emitted(EstimateDocument, grown)
    assert out["uncertainty"]["step_time_s"]["low"] == 1.0 and out["params"]["params_vs_published"] == {"dit": 1.0}
    jsonschema.validate(out, schema_of("estimate"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**grown, "dominant": {"part": "attention_s", "share": "63%"}}, schema_of("estimate"))


def test_unknown_schema_document_is_one_line_error():
    result = runner.invoke(app, ["schema", "nope"])
    assert result.exit_code == 2 and result.stderr.startswith("error:")
