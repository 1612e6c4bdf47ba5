"""Exact rewrites of an exported ONNX graph that onnxruntime does not make itself.

Keras' TensorFlow export (tf2onnx) wraps every embedding lookup in the negative-index fix-up
of `ops.take` (`where(i < 0, i + n, i)`: five elementwise nodes per table), and keras-rs'
`DotInteraction` picks the lower triangle with a `Gather` along the last axis, which
onnxruntime copies element by element. ONNX `Gather` already reads negative indices from the
end, and gathering rows of the transposed matrix picks the same numbers, so both rewrites
leave every output bit-identical (`simplify` checks that on sample inputs before it keeps
them). Measured in docs/benchmarks.md ("Serving", the DLRM export).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx
from onnx import helper

Feed = Mapping[str, npt.NDArray[np.generic]]


@dataclass(frozen=True)
class Simplified:
    """What `simplify` changed (all zero and the node counts equal when it left the graph alone)."""

    nodes_before: int
    nodes_after: int
    index_fixups_removed: int
    column_gathers_rewritten: int


class _Graph:
    def __init__(self, graph: onnx.GraphProto) -> None:
        self.producer = {out: node for node in graph.node for out in node.output}
        self.constants = {i.name: onnx.numpy_helper.to_array(i) for i in graph.initializer}

    def made_by(self, tensor: str, *ops: str) -> onnx.NodeProto | None:
        node = self.producer.get(tensor)
        return node if node is not None and node.op_type in ops else None

    def through_casts(self, tensor: str) -> str:
        while (cast := self.made_by(tensor, "Cast")) is not None:
            tensor = cast.input[0]
        return tensor

    def is_zero(self, tensor: str) -> bool:
        value = self.constants.get(tensor)
        return value is not None and value.size == 1 and float(value.reshape(-1)[0]) == 0.0

    def fixed_up_index(self, tensor: str) -> str | None:
        """The raw index tensor when `tensor` is `where(i < 0, i + n, i)` as tf2onnx writes it:
        Add(Mul(Cast(Less(i, 0)), Add(i, n)), Mul(i, Cast(Not(Less(i, 0)))))."""
        add = self.made_by(tensor, "Add")
        if add is None or len(add.input) != 2:
            return None
        first, second = (self.made_by(t, "Mul") for t in add.input)
        if first is None or second is None:
            return None
        for keep, shift in ((first, second), (second, first)):
            for raw, mask in (keep.input, keep.input[::-1]):
                if self._is_not_negative(mask, raw) and self._is_negative_shift(shift, raw):
                    return str(raw)
        return None

    def _negative_test(self, tensor: str, raw: str) -> onnx.NodeProto | None:
        less = self.made_by(self.through_casts(tensor), "Less")
        if less is None or self.through_casts(less.input[0]) != self.through_casts(raw):
            return None
        return less if self.is_zero(less.input[1]) else None

    def _is_not_negative(self, mask: str, raw: str) -> bool:
        cast = self.made_by(mask, "Cast")
        negated = self.made_by(cast.input[0], "Not") if cast is not None else None
        return negated is not None and self._negative_test(negated.input[0], raw) is not None

    def _is_negative_shift(self, shift: onnx.NodeProto, raw: str) -> bool:
        for test, shifted in (shift.input, shift.input[::-1]):
            plus = self.made_by(shifted, "Add")
            if (
                self._negative_test(test, raw) is not None
                and plus is not None
                and raw in plus.input
                and any(t in self.constants for t in plus.input if t != raw)
            ):
                return True
        return False


def _drop_index_fixups(graph: onnx.GraphProto) -> int:
    view = _Graph(graph)
    dropped = 0
    for node in graph.node:
        if node.op_type == "Gather" and (raw := view.fixed_up_index(node.input[1])) is not None:
            node.input[1] = raw
            dropped += 1
    return dropped


def _axis(node: onnx.NodeProto) -> int:
    return next((int(a.i) for a in node.attribute if a.name == "axis"), 0)


def _gather_rows_not_columns(model: onnx.ModelProto) -> int:
    """Gather(x, constant, axis=-1) of a 2-D x -> Transpose, Gather rows, Transpose."""
    graph = model.graph
    inferred = onnx.shape_inference.infer_shapes(model).graph
    ranks = {
        v.name: len(v.type.tensor_type.shape.dim)
        for v in [*inferred.value_info, *inferred.input]
        if v.type.tensor_type.HasField("shape")
    }
    constants = {i.name for i in graph.initializer}
    rewritten, nodes = 0, []
    for node in graph.node:
        data, index = node.input[0], node.input[1] if len(node.input) > 1 else ""
        if (
            node.op_type != "Gather"
            or index not in constants
            or ranks.get(data) != 2
            or _axis(node) not in (1, -1)
        ):
            nodes.append(node)
            continue
        columns, picked = f"{node.name}/columns", f"{node.name}/picked"
        nodes += [
            helper.make_node("Transpose", [data], [columns], perm=[1, 0], name=f"{node.name}/to_rows"),
            helper.make_node("Gather", [columns, index], [picked], axis=0, name=f"{node.name}/rows"),
            helper.make_node("Transpose", [picked], list(node.output), perm=[1, 0], name=f"{node.name}/back"),
        ]
        rewritten += 1
    del graph.node[:]
    graph.node.extend(nodes)
    return rewritten


def _drop_dead(graph: onnx.GraphProto) -> None:
    live = {o.name for o in graph.output}
    kept = []
    for node in reversed(list(graph.node)):
        if any(out in live for out in node.output):
            kept.append(node)
            live.update(node.input)
    del graph.node[:]
    graph.node.extend(reversed(kept))
    used = [i for i in graph.initializer if i.name in live]
    del graph.initializer[:]
    graph.initializer.extend(used)


def rewrite(model: onnx.ModelProto) -> tuple[onnx.ModelProto, Simplified]:
    """A rewritten copy of `model` (not yet checked against it: `simplify` does that)."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    before = len(out.graph.node)
    fixups = _drop_index_fixups(out.graph)
    columns = _gather_rows_not_columns(out)
    _drop_dead(out.graph)
    onnx.checker.check_model(out)
    return out, Simplified(before, len(out.graph.node), fixups, columns)


Runner = Callable[[bytes, Feed], list[npt.NDArray[np.generic]]]


def _run_onnxruntime(model: bytes, feed: Feed) -> list[npt.NDArray[np.generic]]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # the removed constants' "unused initializer" notes
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    return [np.asarray(x) for x in session.run(None, dict(feed))]


def simplify(path: Path, feeds: list[Feed], run: Runner = _run_onnxruntime) -> Simplified:
    """Rewrite the model at `path` in place when every output stays bit-identical on `feeds`.

    A graph the rewrites do not match, or one whose outputs would change, is left as it is
    (reported as nothing removed), so an export never serves different scores.
    """
    if not feeds:
        raise ValueError("simplify needs at least one sample feed to compare outputs on")
    original = onnx.load(str(path))
    candidate, report = rewrite(original)
    if report.index_fixups_removed == 0 and report.column_gathers_rewritten == 0:
        return Simplified(report.nodes_before, report.nodes_before, 0, 0)
    old, new = original.SerializeToString(), candidate.SerializeToString()
    for feed in feeds:
        same = all(np.array_equal(a, b) for a, b in zip(run(old, feed), run(new, feed), strict=True))
        if not same:
            return Simplified(report.nodes_before, report.nodes_before, 0, 0)
    path.write_bytes(new)
    return report
