"""`recsys data` commands: happy paths print summaries, bad input gives one clear line."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from recsys_workloads.data.cli import app

runner = CliRunner()


def test_generate_validate_ingest_and_stats_work_end_to_end(tmp_path: Path) -> None:
    shop, canon = tmp_path / "shop", tmp_path / "canon"
    small = ["--users", "60", "--items", "50", "--days", "2", "--interactions", "800", "--no-images"]
    result = runner.invoke(app, ["generate", str(shop), *small])
    assert result.exit_code == 0, result.output
    assert "interactions" in result.output
    result = runner.invoke(app, ["validate", str(shop)])
    assert result.exit_code == 0 and "valid seed layout" in result.output
    result = runner.invoke(app, ["ingest", str(shop), str(canon)])
    assert result.exit_code == 0, result.output
    for path in (shop, canon):
        result = runner.invoke(app, ["stats", str(path)])
        assert result.exit_code == 0, result.output
        for heading in (
            "events by type",
            "events by device",
            "rows per day",
            "views by category",
            "AddToCart",
        ):
            assert heading in result.output


def test_bad_input_exits_non_zero_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    (tmp_path / "rds").mkdir()
    (tmp_path / "rds" / "products.yaml").write_text("- id: p1\n  name: Chair\n  category: furniture\n")
    result = runner.invoke(app, ["validate", str(tmp_path / "rds")])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "products.yaml, row 1, column 'style': Field required" in " ".join(result.output.split())


def test_generate_rejects_an_impossible_knob_clearly(tmp_path: Path) -> None:
    result = runner.invoke(app, ["generate", str(tmp_path / "x"), "--days", "0"])
    assert result.exit_code == 1
    assert "--days" in result.output and "Traceback" not in result.output
