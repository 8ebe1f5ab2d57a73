"""One validation layer (issue 16, item 4): bounds live on the specs, so a spec built anywhere (options,
files, sweeps, golden scenarios, notebooks) gets the same checks; one translator words every error; one
grammar reads --gpus."""
import typing

import pytest
import yaml
from pydantic import BaseModel, ValidationError
from typer.testing import CliRunner

from estimators.catalog.gpus import parse_cluster, parse_gpus
from estimators.documents.docdiff import diff
from estimators.errors import PlanInputError
from estimators.planning.fleet import FleetQuery
from estimators.planning.request import PlanRequest
from estimators.planning.sweeps import plan_request
from estimators.specs.bounds import MAX_MODEL_DEPTH, MAX_MODEL_WHOLE_NUMBER, Bound
from estimators.specs.hardware import MAX_GPUS, Cluster
from estimators.specs.messages import Spelled, Spelling, plain_words
from estimators.specs.models import GPTSpec, VideoSystemSpec
from estimators.specs.workload import MAX_STAGES, TrainingStage, Workload
from plan_cli.main import app
from sim.plan_sim import SimOptions

runner = CliRunner()
STAGE = dict(height=480, width=848, frames=163, text_tokens=256, steps=100, global_batch=512)


def _error(build) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        build()
    return caught.value


# ---- bounds on the specs, wherever they are built ----

@pytest.mark.parametrize("build, kind", [
    (lambda: TrainingStage(**{**STAGE, "frames": 100_001}), "too_high"),  # 100,000 frames: 55 minutes at 30 fps
    (lambda: TrainingStage(**{**STAGE, "height": 0}), "too_low"),
    (lambda: Workload(stages=(TrainingStage(**STAGE),) * (MAX_STAGES + 1)), "too_long"),
    (lambda: Cluster(gpu=parse_cluster("H100x8").gpu, num_gpus=MAX_GPUS + 1), "too_high"),
    (lambda: SimOptions(runs=20_001), "too_high"),
    (lambda: SimOptions(interval_s=0), "too_low"),
    (lambda: FleetQuery(max_gpus=0), "too_low"),
    (lambda: FleetQuery(deadline_days=float("nan")), "finite_number"),
    (lambda: diff({}, {}, tolerance=-1), "too_low"),
])
def test_a_spec_out_of_bounds_is_refused_wherever_it_is_built(build, kind):
    assert _error(build).errors()[0]["type"] == kind


def test_sweeps_and_golden_scenarios_meet_the_stage_bounds():
    error = _error(lambda: plan_request(gpus="H100x8", frames=1_000_003))
    assert plain_words(error) == "frames=1000003: at most 100,000 (a bound of this planner that keeps every command answering within seconds)"


def test_the_layouts_listed_are_bounded_on_the_request():
    request = plan_request(gpus="H100x8")
    assert _error(lambda: PlanRequest(**{**dict(request), "ranked_layouts": 1_001})).errors()[0]["type"] == "too_high"


def _whole_number_fields(spec: type[BaseModel], seen: set) -> list[str]:
    """'Class.field' of every whole-number field (or list of them) of ``spec`` and the specs inside it."""
    if spec in seen:
        return []
    seen.add(spec)
    found = []
    for name, info in spec.model_fields.items():
        args = [info.annotation, *typing.get_args(info.annotation)]
        args += [a for arg in list(args) for a in typing.get_args(arg)]
        if any(a is int for a in args) or any(a is int for arg in args for a in typing.get_args(arg)):
            bounds = [m for m in info.metadata if isinstance(m, Bound)]
            bounds += [m for arg in args for m in getattr(arg, "__metadata__", ()) if isinstance(m, Bound)]
            found.append((f"{spec.__name__}.{name}", bounds))
        for inner in args:
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                found += _whole_number_fields(inner, seen)
    return found


def test_every_whole_number_of_a_model_file_has_a_planner_bound():
    # a field added without one (PositiveInt) would let a model file loop the counts for hours
    fields = _whole_number_fields(VideoSystemSpec, set()) + _whole_number_fields(GPTSpec, set())
    assert len(fields) > 50
    unbounded = [name for name, bounds in fields if not any(b.high <= MAX_MODEL_WHOLE_NUMBER for b in bounds)]
    assert unbounded == ["VideoSystemSpec.published_params"]  # published counts are compared with ours, never walked
    depth = {name: bounds[0].high for name, bounds in fields if name.rsplit(".", 1)[1] in ("count", "num_layers", "num_blocks")}
    assert depth and set(depth.values()) == {MAX_MODEL_DEPTH}


# ---- one translator, told how the user spelled each field ----

def test_the_translator_names_a_field_as_it_was_typed():
    error = _error(lambda: SimOptions(restart_s=float("nan")))
    assert plain_words(error, Spelling(fields={"restart_s": Spelled("--restart-min", per_unit=60)})) == "--restart-min nan: expected a finite number"
    error = _error(lambda: SimOptions(restart_s=60 * 200_000))  # 200,000 minutes, over the 100,000-minute bound
    spelled = plain_words(error, Spelling(fields={"restart_s": Spelled("--restart-min", per_unit=60)}))
    assert spelled.startswith("--restart-min 200000.0: at most 100,000 (")


@pytest.mark.parametrize("stage, line", [
    ({"frames": 0}, "w.yaml: stages.0.frames=0: must be at least 1"),
    ({"fps": float("inf")}, "w.yaml: stages.0.fps=inf: expected a finite number"),
    ({"bogus": 1}, "w.yaml: stages.0.bogus: unknown field"),
])
def test_a_workload_file_names_the_file_and_the_field(tmp_path, stage, line):
    path = tmp_path / "w.yaml"
    path.write_text(yaml.safe_dump({"stages": [{**STAGE, **stage}]}))
    result = runner.invoke(app, ["estimate", "--workload", str(path)])
    assert result.exit_code == 2 and result.stderr.strip() == f"error: {tmp_path}/{line}", result.stderr


def test_too_many_stages_are_one_line_naming_the_option():
    result = runner.invoke(app, ["estimate", *["--stage", "steps=10"] * (MAX_STAGES + 1)])
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"error: --stage: {MAX_STAGES + 1} entries, at most {MAX_STAGES} "
                                     "(a bound of this planner that keeps every command answering within seconds)")


@pytest.mark.parametrize("args, line", [
    (["estimate", "--frames", "0"], "--frames 0: must be at least 1"),
    (["estimate", "--top", "1001"], "--top 1001: at most 1,000 (a bound of this planner that keeps every command answering within seconds)"),
    (["estimate", "--gpus", "H100,B200", "--max-gpus", "0", "--deadline-days", "9"], "--max-gpus 0: must be at least 1"),
    (["simulate", "--storage-read-gbps", "0"],
     "--storage-read-gbps 0.0: must be at least 0.01 GB/s (10 MB/s: storage slower than one hard disk would stretch a plan to years)"),
    (["diff", "a.json", "b.json", "--tolerance", "-1"], "--tolerance -1.0: must be at least 0"),
])
def test_options_are_checked_by_the_spec_they_configure(tmp_path, monkeypatch, args, line):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.json").write_text("{}")
    (tmp_path / "b.json").write_text("{}")
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and result.stderr.strip() == f"error: {line}", result.stderr


# ---- one --gpus grammar ----

def test_gpus_names_one_cluster_or_kinds_case_insensitive_with_aliases():
    cluster = parse_gpus("h100-sxm5X512").cluster
    assert (cluster.gpu.name, cluster.num_gpus) == ("H100-SXM", 512)
    kinds = parse_gpus(" h100 , H200-141G,B200,H100-SXM ").kinds
    assert [g.name for g in kinds] == ["H100-SXM", "H200", "B200"]  # each kind once, in the order given
    assert parse_gpus("A100").kinds[0].name == "A100-80G" and parse_gpus("A100").cluster is None


@pytest.mark.parametrize("text, fragment", [
    ("H100x0", "gpus 'H100x0': must be at least 1"),
    (f"H100x{MAX_GPUS + 1}", f"gpus 'H100x{MAX_GPUS + 1}': at most {MAX_GPUS:,} GPUs"),
    ("H100x8,B200", "expected one cluster as NAMExCOUNT"),
    ("H100,,B200", "expected one cluster as NAMExCOUNT"),
    ("Z9x8", "unknown GPU 'Z9'"),
])
def test_gpus_errors_are_one_line(text, fragment):
    with pytest.raises(PlanInputError) as caught:
        parse_gpus(text)
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


def test_a_cluster_command_refuses_kinds():
    with pytest.raises(PlanInputError, match="needs one cluster as NAMExCOUNT"):
        parse_cluster("H100,H200")
