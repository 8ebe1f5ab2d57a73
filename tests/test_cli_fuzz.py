"""Fuzz of the `plan` front door (hypothesis through typer's CliRunner: estimate, simulate, report,
golden, diff, schema): whatever a user types, a command answers within a time bound with exit code
0 or 2 (1 only where a command means "moved", plan golden), never a traceback, and every JSON
document it prints is strict JSON of finite numbers. Files reach the shapes that get past a parser:
YAML alias chains and recursive aliases, keys given twice, nesting hundreds deep (model, workload and
diff inputs); outputs that are the command's own inputs (by name, symlink or hard link) are refused and
leave the input as it was.

The options are tables (option name -> strategy of the text typed after it): a new option is one row.
"""
import copy
import json
import os
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from estimators.catalog.files import DATA_DIR
from plan_cli.main import app

runner = CliRunner()
# Seconds one call may take: the slowest legitimate call here (a report) takes about 8 s on 2 busy cores.
CALL_BOUND_S = 30
# Examples of the planning-command fuzz: 200 in the suite (about 30 s here); raise it for a deeper search.
PLAN_EXAMPLES = int(os.environ.get("VIDEOPLAN_FUZZ_EXAMPLES", "200"))
FILES = "{files}"  # replaced by the test's folder of fixture files

SPECIAL_NUMBERS = ["0", "-1", "1e12", "1e400", "nan", "inf", "-inf", "Infinity", "１２", "٣", "1_000", "", " ", "abc", "0x10",
                   "9" * 25, "2.5", "-0", "1e-320"]
NUMBER = st.one_of(
    st.sampled_from(SPECIAL_NUMBERS),
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(1, 4096).map(str),
)


def typed(*sane: str, fuzz=NUMBER):
    """About half the time a value a user would type (so deep paths run), else a fuzzed one."""
    return st.one_of(st.sampled_from(sane), fuzz)


SMALL_COUNT = st.one_of(st.sampled_from(SPECIAL_NUMBERS), st.integers(-3, 40).map(str))
FLAG = st.none()  # the option alone
GPUS = st.builds(lambda name, count: f"{name}x{count}", st.sampled_from(["H100", "a100", "H200", "B200", "Z9", ""]),
                 st.one_of(NUMBER, st.sampled_from(["8", "64", "512", "1024", "720720"])))
LAYOUT_VALUES = st.one_of(SMALL_COUNT, st.sampled_from(["full", "none", "selective", "ring", "ulysses", "3", "1", "2", "4", "8", "16"]))
LAYOUT = st.lists(st.tuples(st.sampled_from(["tp", "pp", "cp", "dp", "zero", "micro_batch", "recompute", "vpp", "cp_kind", "foo"]),
                            LAYOUT_VALUES), max_size=4).map(lambda kv: ",".join(f"{k}={v}" for k, v in kv))
STAGE_KEYS = ["name", "height", "width", "frames", "fps", "text_tokens", "num_clips", "epochs", "steps", "global_batch", "foo"]
STAGE = st.lists(st.tuples(st.sampled_from(STAGE_KEYS), st.one_of(NUMBER, st.sampled_from(["240", "432", "79", "1000"]))),
                 max_size=3).map(lambda kv: ",".join(f"{k}={v}" for k, v in kv))
FILE_VALUES = st.one_of(st.none(), st.booleans(), st.sampled_from([float("nan"), float("inf"), -1, 0, 1e12, 10**30, "x", [], {}]),
                        st.integers(-5, 10**7), st.floats(allow_nan=False, allow_infinity=False))
MOCHI = yaml.safe_load((DATA_DIR / "models" / "mochi-10b.yaml").read_text())
MOCHI_VAE = yaml.safe_load((DATA_DIR / "components" / "mochi-vae.yaml").read_text())
T5_XXL = yaml.safe_load((DATA_DIR / "components" / "t5-xxl.yaml").read_text())


def model_file(edits: list) -> callable:
    """A Mochi model file with some fields set to fuzzed values (written when the test runs)."""
    def write(folder: Path) -> str:
        data = copy.deepcopy(MOCHI)
        data["vae"], data["text_encoder"] = copy.deepcopy(MOCHI_VAE), copy.deepcopy(T5_XXL)
        for part, index, value in edits:
            fields = data[part] if part != "vae_stage" else data["vae"]["encoder_stages"][0]
            key = sorted(k for k in fields if k != "family")[index % (len(fields) - 1)]
            fields[key] = value
        path = folder / f"model-{abs(hash(repr(edits)))}.yaml"
        path.write_text(yaml.safe_dump(data))
        return str(path)
    return write


def workload_file(stage: dict, extra: dict) -> callable:
    def write(folder: Path) -> str:
        path = folder / f"workload-{abs(hash(repr((stage, extra))))}.yaml"
        base = {"height": 480, "width": 848, "frames": 163, "text_tokens": 256, "steps": 100, "global_batch": 512}
        path.write_text(yaml.safe_dump({"stages": [{**base, **stage}], **extra}))
        return str(path)
    return write


HOSTILE_KINDS = ("alias_chain", "recursive_alias", "duplicate_key", "nested_yaml", "nested_json", "duplicate_json_key")


def hostile_text(kind: str, size: int, depth: int) -> tuple[str, str]:
    """(suffix, text) of a document that a plain parser would expand, recurse into or silently take the last key of."""
    if kind == "alias_chain":  # size anchors, each repeating the one before ten times: 10^size values
        lines = ["a0: &a0 [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]"] + [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]"
                                                             for i in range(1, size)]
        return ".yaml", "\n".join(lines) + "\n"
    if kind == "recursive_alias":
        return ".yaml", "dit: &d {blocks: [" * 1 + "*d" + "]}\n"
    if kind == "duplicate_key":
        data = {**MOCHI, "vae": MOCHI_VAE, "text_encoder": T5_XXL}
        text = yaml.safe_dump(data)
        return ".yaml", text + text.splitlines()[min(size, len(text.splitlines()) - 1)] + "\n"
    if kind == "nested_yaml":
        return ".yaml", "dit: " + "[" * depth + "]" * depth + "\n"
    if kind == "nested_json":
        return ".json", '{"dit": ' + "[" * depth + "]" * depth + "}"
    return ".json", '{"family": "video_dit", "family": "gpt"}'


def hostile_file(kind: str, size: int, depth: int) -> callable:
    def write(folder: Path) -> str:
        suffix, text = hostile_text(kind, size, depth)
        path = folder / f"hostile-{kind}-{size}-{depth}{suffix}"
        path.write_text(text)
        return str(path)
    return write


HOSTILE = st.builds(hostile_file, st.sampled_from(HOSTILE_KINDS), st.integers(1, 9), st.integers(1, 400))
MODEL = st.one_of(
    HOSTILE,
    st.sampled_from(["mochi-10b", "cogvideox-2b", "cogvideox-5b", "no-such-model", f"{FILES}/missing.yaml", f"{FILES}/not-yaml.yaml"]),
    st.lists(st.tuples(st.sampled_from(["dit", "text_encoder", "vae", "vae_stage"]), st.integers(0, 40), FILE_VALUES),
             min_size=1, max_size=2).map(model_file),
)
WORKLOAD = st.one_of(
    HOSTILE,
    st.sampled_from([f"{FILES}/missing.yaml", f"{FILES}/not-yaml.yaml", f"{FILES}/binary.bin"]),
    st.builds(workload_file, st.dictionaries(st.sampled_from(STAGE_KEYS), FILE_VALUES, max_size=2),
              st.dictionaries(st.sampled_from(["precompute_text", "cfg_dropout", "preprocess_passes", "bogus"]), FILE_VALUES, max_size=1)),
)
OUTPUT = st.sampled_from([f"{FILES}/out/plan.pdf", f"{FILES}/out", f"{FILES}/missing/plan.pdf", f"{FILES}/link.pdf",
                          "/proc/videoplan-fuzz.pdf", f"{FILES}/readonly/plan.pdf"])
TRACE = st.sampled_from([f"{FILES}/out/trace.json", f"{FILES}/out", f"{FILES}/missing/t.json", f"{FILES}/link.json"])
TIMELINE = st.sampled_from([f"{FILES}/out/timeline.png", f"{FILES}/out", f"{FILES}/missing/t.png"])

# Options every planning command shares, then each command's own.
PLAN_OPTIONS = [
    ("--gpus", typed("H100x8", "H100x512", "A100x64", "B200x1024", fuzz=GPUS)), ("--model", MODEL),
    ("--height", typed("240", "480", "256")), ("--width", typed("432", "848", "448")), ("--frames", typed("163", "79", "7", "31")),
    ("--fps", typed("24", "30", "12.5")), ("--text-tokens", typed("77", "256")), ("--clips", typed("1000", "10000000")),
    ("--epochs", typed("0.5", "2")), ("--steps", typed("100", "20000")), ("--global-batch", typed("64", "512", "1536")),
    ("--precision", st.sampled_from(["bf16", "fp8", "fp4", ""])), ("--layout", typed("tp=8", "cp=4,recompute=none", fuzz=LAYOUT)),
    ("--stage", typed("height=240,width=432,steps=1000", fuzz=STAGE)), ("--workload", WORKLOAD), ("--online-text", FLAG),
    ("--online-latents", FLAG), ("--objective", st.sampled_from(["time", "cost", "speed"])),
]
PRICE = st.builds(lambda kind, usd: f"{kind}={usd}", st.sampled_from(["H100", "B200", "Z9", ""]), NUMBER)
PLAN_OPTIONS += [("--price", typed("H100=2.5", "B200=4", fuzz=PRICE))]
COMMANDS = {
    "estimate": PLAN_OPTIONS + [
        ("--top", typed("3", "10")), ("--json", FLAG), ("--deadline-days", typed("30", "3")), ("--budget-usd", typed("1000000")),
        ("--max-gpus", typed("64", "512")), ("--gpus", typed("H100,H200", "B200,A100", "H100,Z9")),
    ],
    "simulate": PLAN_OPTIONS + [
        ("--runs", SMALL_COUNT), ("--seed", typed("0", "7")), ("--schedule", st.sampled_from(["gpipe", "1f1b", "interleaved", "zigzag"])),
        ("--failures-per-gpu-hour", typed("0", "0.001", "0.1")), ("--restart-min", typed("5", "30")),
        ("--storage-write-gbps", typed("1", "100")), ("--storage-read-gbps", typed("10")), ("--async-checkpoints", FLAG),
        ("--checkpoint-interval-min", typed("10", "60")), ("--raw-bitrate-mbps", typed("4", "50")), ("--trace", TRACE),
        ("--timeline", TIMELINE), ("--json", FLAG),
    ],
}
# Defaults added unless the example sets the option itself (keeps each call short).
QUICK = {"simulate": [("--runs", "20")], "report": [("--runs", "5"), ("--gpus", "H100x8"), ("-o", f"{FILES}/out/plan.pdf")]}


def _text(value, folder: Path):
    if callable(value):
        return value(folder)
    return None if value is None else str(value).replace(FILES, str(folder))


def _invocation(command: str, chosen: list, folder: Path) -> list[str]:
    args = [command]
    for option, value in chosen:
        args.append(option)
        text = _text(value, folder)
        if text is not None:
            args.append(text)
    named = {option for option, _ in chosen}
    for option, value in QUICK.get(command, []):
        if option not in named:
            args += [option, _text(value, folder)]
    return args


def _refuse_constant(name: str):
    raise AssertionError(f"non-finite number {name} in a JSON document")


def check_call(args: list[str], allowed_exit=(0, 2)) -> None:
    """The front door's promises for one call."""
    start = time.monotonic()
    result = runner.invoke(app, args)
    elapsed = time.monotonic() - start
    where = " ".join(args)
    event(f"exit code {result.exit_code}")
    assert elapsed < CALL_BOUND_S, f"{where}: {elapsed:.0f} s"
    assert result.exception is None or isinstance(result.exception, SystemExit), f"{where}: {result.exception!r:.300}"
    assert "Traceback" not in result.output, where
    assert result.exit_code in allowed_exit, f"{where}: exit {result.exit_code}: {result.output[-500:]}"
    if result.exit_code == 2:
        assert result.stderr.strip(), f"{where}: exit 2 without a message"
    if result.exit_code == 0 and "--json" in args:
        json.loads(result.stdout, parse_constant=_refuse_constant)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Fixture files: an output folder, a symlink, a read-only folder, text and binary junk."""
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "out").mkdir()
    (folder / "target.pdf").write_text("old")
    (folder / "link.pdf").symlink_to(folder / "target.pdf")
    (folder / "link.json").symlink_to(folder / "target.json")
    (folder / "readonly").mkdir(mode=0o555)
    (folder / "not-yaml.yaml").write_text("stages: [1, 2\n  - : :")
    (folder / "binary.bin").write_bytes(bytes(range(256)) * 4)
    return folder


def options_for(command: str, max_options: int):
    table = COMMANDS[command]
    return st.lists(st.sampled_from(range(len(table))), max_size=max_options, unique=True).flatmap(
        lambda picks: st.tuples(*[st.tuples(st.just(table[i][0]), table[i][1]) for i in picks]))


@settings(max_examples=PLAN_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_planning_commands_hold_whatever_is_typed(files, data):
    command = data.draw(st.sampled_from(sorted(COMMANDS)))
    chosen = data.draw(options_for(command, 4))
    check_call(_invocation(command, list(chosen), files))


REPORT_OPTIONS = [("-o", OUTPUT), ("--runs", SMALL_COUNT), ("--pages-png", TRACE), ("--calibration", WORKLOAD),
                  ("--layout", st.sampled_from(["tp=1,pp=1,cp=1,dp=8,zero=3,micro_batch=1,recompute=full", "tp=16"]))]


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(chosen=st.lists(st.sampled_from(REPORT_OPTIONS), min_size=1, max_size=2, unique_by=lambda o: o[0]).flatmap(
    lambda rows: st.tuples(*[st.tuples(st.just(name), strategy) for name, strategy in rows])))
def test_report_holds_whatever_is_typed(files, chosen):
    check_call(_invocation("report", list(chosen), files))


JSON_VALUES = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5)),
                           lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)),
                           max_leaves=8)
SCENARIO = st.fixed_dictionaries({"id": st.text(min_size=1, max_size=4)}, optional={
    "gpus": st.one_of(st.just("H100x8"), GPUS, st.integers()), "frames": st.one_of(st.integers(-5, 10**6), st.floats()),
    "height": st.integers(-5, 10**5), "steps": st.integers(-5, 10**13), "model": st.sampled_from(["mochi-10b", "nope"]),
    "stages": JSON_VALUES, "bogus": st.none(),
})


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenarios=st.one_of(st.lists(SCENARIO, max_size=2), JSON_VALUES), expected=JSON_VALUES, bad_text=st.booleans())
def test_golden_holds_any_scenario_file(files, scenarios, expected, bad_text):
    folder = files / f"golden-{abs(hash(repr((scenarios, expected, bad_text))))}"
    folder.mkdir(exist_ok=True)
    (folder / "scenarios.json").write_text("[{" if bad_text else json.dumps(scenarios))
    (folder / "expected.json").write_text(json.dumps(expected))
    check_call(["golden", "--dir", str(folder)], allowed_exit=(0, 1, 2))


@settings(max_examples=10, deadline=None)
@given(document=st.one_of(st.none(), st.sampled_from(["estimate", "estimate-deadline", "simulate"]), st.text(max_size=8)))
def test_schema_holds_any_name(document):
    check_call(["schema"] + ([] if document is None else [document]))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(old=st.dictionaries(st.text(max_size=4), JSON_VALUES, max_size=4),
       new=st.one_of(st.dictionaries(st.text(max_size=4), JSON_VALUES, max_size=4), HOSTILE), tolerance=NUMBER,
       kinds=st.tuples(*[st.sampled_from([None, "estimate", "simulate", 3])] * 2))
def test_diff_holds_any_documents(files, old, new, tolerance, kinds):
    a, b = files / "a.json", files / "b.json"
    a.write_text(json.dumps({**old, **({} if kinds[0] is None else {"kind": kinds[0]})}))
    if callable(new):
        b = Path(new(files))
    else:
        b.write_text(json.dumps({**new, **({} if kinds[1] is None else {"kind": kinds[1]})}))
    check_call(["diff", str(a), str(b), "--tolerance", tolerance, "--json"])


# Outputs that are inputs: the model or workload file named as an output, by its own name, a symlink or a hard link.
SAME_FILE_OUTPUTS = [("report", "-o", ".pdf"), ("simulate", "--trace", ".json"), ("simulate", "--timeline", ".png")]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(output=st.sampled_from(SAME_FILE_OUTPUTS), how=st.sampled_from(["same name", "symlink", "hard link"]),
       which=st.sampled_from(["--model", "--workload"]), as_json=st.booleans())
def test_an_output_that_is_an_input_never_replaces_it(files, output, how, which, as_json):
    command, option, suffix = output
    folder = files / f"same-{abs(hash((output, how, which, as_json)))}"
    folder.mkdir(exist_ok=True)
    source = folder / ("input.json" if as_json else "input.yaml")  # a valid input: only its being the output is wrong
    base = {"height": 480, "width": 848, "frames": 163, "text_tokens": 256, "steps": 100, "global_batch": 512}
    data = {**MOCHI, "vae": MOCHI_VAE, "text_encoder": T5_XXL} if which == "--model" else {"stages": [base]}
    source.write_text(json.dumps(data) if as_json else yaml.safe_dump(data))
    before = source.read_bytes()
    # the output named as its format wants (a link), or the input's own name (refused for its extension where that differs)
    target = {"same name": source, "symlink": folder / f"link{suffix}", "hard link": folder / f"hard{suffix}"}[how]
    if how == "symlink" and not target.exists():
        target.symlink_to(source)
    elif how == "hard link" and not target.exists():
        os.link(source, target)
    event(f"{command} {option} {how}")
    result = runner.invoke(app, [command, "--gpus", "H100x8", which, str(source), option, str(target), "--runs", "5"])
    assert "Traceback" not in result.output and result.exit_code == 2, result.output
    if how != "same name" or source.suffix == suffix:
        assert f"is the {which} input file" in result.stderr, result.stderr
    assert source.read_bytes() == before, "an input file was replaced"
