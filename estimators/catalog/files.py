"""The data folder (bundled, or the user's $VIDEOPLAN_DATA_DIR) and the one reader of YAML/JSON input.

Every YAML or JSON the planner reads (model, workload and data files, documents to compare, prompts)
goes through ``parse_text``: a document is refused in one line, naming where it came from, when a key
appears twice in one mapping, when a YAML alias refers to itself, when it nests deeper than MAX_DEPTH
levels or when it holds or expands (YAML aliases repeat what they anchor) to more than MAX_VALUES values.
The YAML node graph is checked before any Python object is built, so an alias bomb costs only its text,
and composing stops at MAX_YAML_NODES nodes, so a long flat file costs under a second.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml

from estimators.errors import PlanInputError

DATA_ENV = "VIDEOPLAN_DATA_DIR"
BUNDLED_DATA_DIR = Path(__file__).parents[1] / "data"
# Bundled data; VIDEOPLAN_DATA_DIR points the planner at another copy (own hardware, profiles, presets).
DATA_DIR = Path(os.environ.get(DATA_ENV) or BUNDLED_DATA_DIR)
MAX_DEPTH = 64  # nesting levels: the deepest plan document nests 7, a model file 6
# Values a document may hold or expand to: a model file holds hundreds, a plan document about a thousand; reading
# and comparing 100,000 takes about a second.
MAX_VALUES = 100_000
# YAML nodes composed from the text (before aliases are expanded): PyYAML composes some 40,000 a second here, and the
# largest bundled YAML file (kernels/attention.yaml) has 867.
MAX_YAML_NODES = 20_000
MERGE_KEY = "<<"  # YAML's merge key may repeat: it merges mappings


def data_origin(path: Path) -> str:
    """How a data file is named in messages: with the variable when the folder is the user's."""
    if not users_data_folder():
        return str(path)
    try:
        return f"${DATA_ENV} ({DATA_DIR}): {Path(path).relative_to(DATA_DIR)}"
    except ValueError:
        return str(path)


def users_data_folder() -> bool:
    """Whether $VIDEOPLAN_DATA_DIR replaces the bundled data."""
    return DATA_DIR != BUNDLED_DATA_DIR


def malformed_data(exc: Exception) -> PlanInputError:
    """The error for data of the user's folder that a reader could not take apart (a table without a key it
    needs, a list where a mapping belongs): the variable, the folder and what was missing."""
    return PlanInputError(f"${DATA_ENV}={DATA_DIR}: its data do not have the shape of the bundled estimators/data "
                          f"({type(exc).__name__}: {str(exc)[:120]}); compare with a fresh copy, or unset it")


def data_folder() -> Path:
    """The data folder, or a one-line error naming the variable when the user's does not exist."""
    if not DATA_DIR.is_dir():
        raise PlanInputError(f"${DATA_ENV}={DATA_DIR}: no such folder (it replaces the bundled data: point it at a copy of "
                             f"estimators/data, or unset it)")
    return DATA_DIR


def data_path(*parts: str) -> Path:
    """A file of the data folder (it must exist)."""
    path = data_folder().joinpath(*parts)
    if not path.is_file():
        raise PlanInputError(f"{data_origin(path)}: missing from the data folder")
    return path


def read_data(*parts: str) -> dict[str, Any]:
    """A YAML mapping of the data folder."""
    path = data_path(*parts)
    return read_mapping(path, data_origin(path))


class _Nodes:
    """Checks of a composed YAML node graph: no key twice, no alias inside itself, bounded depth and size."""

    def __init__(self, origin: str):
        self.origin = origin

    def refuse(self, node: yaml.Node, what: str) -> None:
        raise PlanInputError(f"{self.origin}: line {node.start_mark.line + 1}: {what}")

    def children(self, node: yaml.Node) -> list[yaml.Node]:
        if isinstance(node, yaml.MappingNode):
            self.unique_keys(node)
            return [n for pair in node.value for n in pair]
        return list(node.value) if isinstance(node, yaml.SequenceNode) else []

    def unique_keys(self, node: yaml.MappingNode) -> None:
        seen = set()
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value != MERGE_KEY:
                if key.value in seen:
                    self.refuse(key, f"key '{key.value}' appears twice in one mapping")
                seen.add(key.value)

    def check(self, root: yaml.Node) -> None:
        """Depth-first without recursion: expanded size and depth of every node once (aliases share nodes)."""
        size: dict[int, int] = {}
        depth: dict[int, int] = {}
        open_nodes: set[int] = set()
        pending = [(root, False)]
        while pending:
            node, finished = pending.pop()
            if finished:
                open_nodes.discard(id(node))
                kids = self.children(node)
                size[id(node)] = 1 + sum(size[id(k)] for k in kids)
                depth[id(node)] = 1 + max((depth[id(k)] for k in kids), default=0)
                if size[id(node)] > MAX_VALUES:
                    self.refuse(node, f"expands to more than {MAX_VALUES:,} values (YAML aliases repeat what they anchor)")
                if depth[id(node)] > MAX_DEPTH:
                    self.refuse(node, f"nested deeper than {MAX_DEPTH} levels")
                continue
            if id(node) in size:
                continue
            open_nodes.add(id(node))
            pending.append((node, True))
            for kid in self.children(node):
                if id(kid) in open_nodes:
                    self.refuse(kid, "an alias refers to the node it is inside (a recursive alias)")
                if id(kid) not in size:
                    pending.append((kid, False))


class _CountingLoader(yaml.SafeLoader):
    """The safe loader, stopped once it has composed MAX_YAML_NODES nodes (a long flat file would take minutes)."""

    def __init__(self, text: str, origin: str):
        super().__init__(text)
        self.origin, self.composed = origin, 0

    def compose_node(self, parent, index):
        self.composed += 1
        if self.composed > MAX_YAML_NODES:
            raise PlanInputError(f"{self.origin}: more than {MAX_YAML_NODES:,} YAML nodes (model, workload and data files hold hundreds)")
        return super().compose_node(parent, index)


def _parse_yaml(text: str, origin: str) -> Any:
    loader = _CountingLoader(text, origin)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _Nodes(origin).check(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _unique_pairs(origin: str):
    def mapping(pairs: list[tuple[str, Any]]) -> dict:
        out = {}
        for key, value in pairs:
            if key in out:
                raise PlanInputError(f"{origin}: key '{key}' appears twice in one object")
            out[key] = value
        return out
    return mapping


def _check_json_shape(data: Any, origin: str) -> None:
    """At most MAX_VALUES values, nested at most MAX_DEPTH deep."""
    pending, seen = [(data, 1)], 0
    while pending:
        value, level = pending.pop()
        seen += 1
        if seen > MAX_VALUES:
            raise PlanInputError(f"{origin}: more than {MAX_VALUES:,} values")
        if level > MAX_DEPTH:
            raise PlanInputError(f"{origin}: nested deeper than {MAX_DEPTH} levels")
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        pending.extend((child, level + 1) for child in children)


def parse_text(text: str, origin: str, as_json: bool) -> Any:
    """A JSON or YAML document from text, checked as the module says; ``origin`` names it in every error."""
    try:
        if as_json:
            data = json.loads(text, object_pairs_hook=_unique_pairs(origin))
            _check_json_shape(data, origin)
            return data
        return _parse_yaml(text, origin)
    except PlanInputError:
        raise
    except RecursionError:
        raise PlanInputError(f"{origin}: nested deeper than {MAX_DEPTH} levels") from None
    except yaml.MarkedYAMLError as exc:
        line = f"line {exc.problem_mark.line + 1}: " if exc.problem_mark else ""
        raise PlanInputError(f"{origin}: not valid YAML: {line}{exc.problem or exc.context}") from None
    except (ValueError, yaml.YAMLError) as exc:
        raise PlanInputError(f"{origin}: not valid {'JSON' if as_json else 'YAML'}: {str(exc).splitlines()[0]}") from None


def read_document(path: Path, origin: str | None = None) -> Any:
    """A YAML or JSON file (JSON by its .json suffix), checked as the module says."""
    origin = origin or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise PlanInputError(f"{origin}: not a text file (not UTF-8)") from None
    except OSError as exc:
        raise PlanInputError(f"cannot read {origin}: {exc.strerror or exc}") from None
    return parse_text(text, origin, as_json=path.suffix.lower() == ".json")


def read_mapping(path: Path, origin: str | None = None) -> dict[str, Any]:
    """A YAML or JSON file whose top level is a mapping."""
    data = read_document(path, origin)
    if not isinstance(data, dict):
        raise PlanInputError(f"{origin or path}: expected a mapping at the top level")
    return data
