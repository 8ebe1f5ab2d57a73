"""`plan schema`: the JSON Schema of every document the commands emit validates those documents;
every document carries schema_version; numbers are JSON numbers; the schema and the document come from
the same typed results, so every emitted key is in the schema and a key the schema does not know is refused."""
import json

import jsonschema
import pytest
from typer.testing import CliRunner

from estimators.results import SCHEMA_VERSION
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
    "backtest": [("backtest", "estimators/data/calibration/calibration-runs.csv")],
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


def test_schema_and_document_are_one_shape():
    # every key the document carries is declared, required and typed in the schema; an unknown one is refused
    doc = command_json(EMITTED["estimate"][0])
    schema = schema_of("estimate")
    assert set(doc) == set(schema["properties"]) == set(schema["required"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**doc, "step_time": 1.0}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**doc, "dominant": {"part": "attention", "share": "63%"}}, schema)


def test_schema_version_is_required_in_every_document_schema():
    for name in EMITTED:
        assert "schema_version" in schema_of(name)["required"], name


def test_unknown_schema_document_is_one_line_error():
    result = runner.invoke(app, ["schema", "nope"])
    assert result.exit_code == 2 and result.stderr.startswith("error:")


def test_every_document_plan_schema_lists_requires_its_version_and_kind():
    from plan_cli.main import DOCUMENTS

    everything = json.loads(runner.invoke(app, ["schema"]).stdout)["documents"]
    assert set(everything) == set(DOCUMENTS) >= {"backtest", "diff", "reference-evaluate", "profile"}
    for name, schema in everything.items():
        assert {"schema_version", "kind"} <= set(schema["required"]), name
        assert schema["properties"]["kind"]["const"] == name


def test_a_diff_document_validates_against_its_schema(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(command_json(("estimate", "--gpus", "H100x64"))))
    b.write_text(json.dumps(command_json(("estimate", "--gpus", "H100x128"))))
    doc = command_json(("diff", str(a), str(b)))
    jsonschema.validate(doc, schema_of("diff"))
    assert doc["schema_version"] == SCHEMA_VERSION and doc["kind"] == "diff"
