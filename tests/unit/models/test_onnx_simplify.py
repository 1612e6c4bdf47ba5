"""The exported graph's exact rewrites (models.onnx_simplify) on graphs shaped as tf2onnx writes them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from recsys_workloads.models.onnx_simplify import Feed, simplify

TABLE = np.arange(5 * 3, dtype=np.float32).reshape(5, 3)


def _fixup(raw: str, prefix: str, zero: float = 0.0) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    """`where(i < 0, i + n, i)` as tf2onnx writes Keras' `ops.take` index fix-up."""
    return [
        helper.make_node("Cast", [raw], [f"{prefix}f"], to=TensorProto.FLOAT),
        helper.make_node("Less", [f"{prefix}f", f"{prefix}zero"], [f"{prefix}neg"]),
        helper.make_node("Cast", [f"{prefix}neg"], [f"{prefix}negi"], to=TensorProto.INT64),
        helper.make_node("Add", [raw, f"{prefix}n"], [f"{prefix}shifted"]),
        helper.make_node("Mul", [f"{prefix}negi", f"{prefix}shifted"], [f"{prefix}a"]),
        helper.make_node("Not", [f"{prefix}neg"], [f"{prefix}pos"]),
        helper.make_node("Cast", [f"{prefix}pos"], [f"{prefix}posi"], to=TensorProto.INT64),
        helper.make_node("Mul", [raw, f"{prefix}posi"], [f"{prefix}b"]),
        helper.make_node("Add", [f"{prefix}a", f"{prefix}b"], [f"{prefix}index"]),
    ], [
        numpy_helper.from_array(np.array(zero, dtype=np.float32), f"{prefix}zero"),
        numpy_helper.from_array(np.array(len(TABLE), dtype=np.int64), f"{prefix}n"),
    ]


def _embedding_model(zero: float = 0.0) -> onnx.ModelProto:
    nodes, constants = _fixup("ids", "e/", zero)
    nodes.append(helper.make_node("Gather", ["table", "e/index"], ["out"], axis=0))
    graph = helper.make_graph(
        nodes,
        "embedding",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["n"])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["n", 3])],
        [numpy_helper.from_array(TABLE, "table"), *constants],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def _triangle_model(rank: int) -> onnx.ModelProto:
    """keras-rs' DotInteraction picks its pairs from the flattened Gram matrix along the last axis."""
    shape: list[str | int | None] = ["n", 9] if rank == 2 else ["n", 2, 9]
    graph = helper.make_graph(
        [helper.make_node("Gather", ["gram", "pairs"], ["out"], axis=-1)],
        "triangle",
        [helper.make_tensor_value_info("gram", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [*shape[:-1], 3])],
        [numpy_helper.from_array(np.array([3, 6, 7], dtype=np.int64), "pairs")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def _run(model: bytes | onnx.ModelProto, feed: Feed) -> list[np.ndarray]:
    raw = model if isinstance(model, bytes) else model.SerializeToString()
    return [
        np.asarray(x)
        for x in ort.InferenceSession(raw, providers=["CPUExecutionProvider"]).run(None, dict(feed))
    ]


def _save(model: onnx.ModelProto, tmp_path: Path) -> Path:
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    return path


IDS = {"ids": np.array([0, 4, 2, -1, -5, 3], dtype=np.int64)}  # negative: counted from the end


def test_the_index_fixup_goes_and_every_lookup_negative_ones_included_reads_the_same_rows(
    tmp_path: Path,
) -> None:
    path = _save(_embedding_model(), tmp_path)
    before = _run(onnx.load(str(path)), IDS)

    report = simplify(path, [IDS])

    simplified = onnx.load(str(path))
    assert [n.op_type for n in simplified.graph.node] == ["Gather"]
    assert simplified.graph.node[0].input[1] == "ids"
    assert (report.index_fixups_removed, report.nodes_before, report.nodes_after) == (1, 10, 1)
    assert {i.name for i in simplified.graph.initializer} == {"table"}
    np.testing.assert_array_equal(_run(simplified, IDS)[0], before[0])
    np.testing.assert_array_equal(before[0], TABLE[IDS["ids"]])


def test_a_lookalike_that_is_not_the_negative_index_fixup_is_kept(tmp_path: Path) -> None:
    path = _save(_embedding_model(zero=1.0), tmp_path)  # i < 1: also shifts index 0
    original = path.read_bytes()

    report = simplify(path, [IDS])

    assert report.nodes_after == report.nodes_before == 10
    assert path.read_bytes() == original


def test_the_triangle_gather_becomes_a_row_gather_of_the_transpose_with_the_same_numbers(
    tmp_path: Path,
) -> None:
    path = _save(_triangle_model(rank=2), tmp_path)
    feed = {"gram": np.random.default_rng(0).standard_normal((4, 9)).astype(np.float32)}
    before = _run(onnx.load(str(path)), feed)[0]

    report = simplify(path, [feed])

    simplified = onnx.load(str(path))
    assert [n.op_type for n in simplified.graph.node] == ["Transpose", "Gather", "Transpose"]
    assert report.column_gathers_rewritten == 1
    np.testing.assert_array_equal(_run(simplified, feed)[0], before)
    np.testing.assert_array_equal(before, feed["gram"][:, [3, 6, 7]])


def test_a_gather_along_the_last_axis_of_a_3d_tensor_is_left_alone(tmp_path: Path) -> None:
    path = _save(_triangle_model(rank=3), tmp_path)
    feed = {"gram": np.ones((2, 2, 9), dtype=np.float32)}

    report = simplify(path, [feed])

    assert report.column_gathers_rewritten == 0
    assert [n.op_type for n in onnx.load(str(path)).graph.node] == ["Gather"]


def test_a_rewrite_whose_outputs_would_differ_is_not_written(tmp_path: Path) -> None:
    path = _save(_embedding_model(), tmp_path)
    original = path.read_bytes()

    def disagreeing(model: bytes, feed: Feed) -> list[np.ndarray]:
        out = _run(model, feed)
        return out if model == original else [x + 1 for x in out]

    report = simplify(path, [IDS], run=disagreeing)

    assert path.read_bytes() == original
    assert report.nodes_after == report.nodes_before and report.index_fixups_removed == 0


def test_every_feed_is_checked_and_without_one_nothing_is_rewritten(tmp_path: Path) -> None:
    path = _save(_embedding_model(), tmp_path)
    calls: list[int] = []

    def counting(model: bytes, feed: Feed) -> list[np.ndarray]:
        calls.append(1)
        return _run(model, feed)

    with pytest.raises(ValueError, match="at least one sample feed"):
        simplify(path, [], run=counting)
    assert len(onnx.load(str(path)).graph.node) == 10

    simplify(path, [IDS, {"ids": np.zeros(3, dtype=np.int64)}], run=counting)

    assert len(calls) == 4
    assert len(onnx.load(str(path)).graph.node) == 1
