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


def test_ingest_says_what_the_unknown_id_policy_kept_and_dropped_and_reject_refuses(tmp_path: Path) -> None:
    source = tmp_path / "rds"
    source.mkdir()
    (source / "products.yaml").write_text(
        "- id: p1\n  name: Chair\n  category: furniture\n  style: chairs\n  price: 9.5\n"
    )
    (source / "users.json").write_text('[{"id": "1", "gender": "F", "age": 30}]')
    (source / "interactions.csv").write_text(
        "ITEM_ID,USER_ID,EVENT_TYPE,TIMESTAMP\np1,1,View,1767571210\np1,77,View,1767571211\np8,1,View,1767571212\n"
    )
    result = runner.invoke(app, ["ingest", str(source), str(tmp_path / "canon")])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "1 users without a profile kept, 1 rows of 1 unknown items dropped" in said
    refused = runner.invoke(app, ["validate", str(source), "--unknown-users", "reject"])
    assert refused.exit_code == 1 and "unknown user id '77'" in " ".join(refused.output.split())
    wrong = runner.invoke(app, ["validate", str(source), "--unknown-items", "keep"])
    assert wrong.exit_code == 1 and "--unknown-items drop or reject" in " ".join(wrong.output.split())
    assert "Traceback" not in refused.output + wrong.output


def test_export_personalize_then_ingest_and_validate_it(tmp_path: Path) -> None:
    shop, canon, pz = tmp_path / "shop", tmp_path / "canon", tmp_path / "pz"
    small = ["--users", "40", "--items", "30", "--days", "2", "--interactions", "400", "--no-images"]
    assert runner.invoke(app, ["generate", str(shop), *small]).exit_code == 0
    assert runner.invoke(app, ["ingest", str(shop), str(canon)]).exit_code == 0
    result = runner.invoke(app, ["export", "--layout", "personalize", str(canon), str(pz)])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "exported" in said and "as personalize layout" in said and "30 items, 40 users" in said
    assert sorted(p.name for p in pz.iterdir()) == ["interactions.csv", "items.csv", "users.csv"]
    result = runner.invoke(app, ["validate", str(pz)])
    assert result.exit_code == 0 and "valid personalize layout: 30 items, 40 users" in " ".join(
        result.output.split()
    )
    result = runner.invoke(app, ["ingest", "--layout", "personalize", str(pz), str(tmp_path / "again")])
    assert result.exit_code == 0, result.output
    assert "ingested personalize layout" in " ".join(result.output.split())


def test_export_and_event_type_options_say_what_is_wrong(tmp_path: Path) -> None:
    source = tmp_path / "pz"
    source.mkdir()
    (source / "items.csv").write_text("ITEM_ID,PRICE,CATEGORY_L1\np1,1,a\n")
    (source / "interactions.csv").write_text("USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\n1,p1,1767571210,rate\n")
    refused = runner.invoke(app, ["validate", str(source)])
    assert refused.exit_code == 1
    assert "interactions.csv, row 1, column 'EVENT_TYPE': event type 'rate' is not in" in " ".join(
        refused.output.split()
    )
    mapped = runner.invoke(app, ["validate", str(source), "--event-type", "rate=View"])
    assert mapped.exit_code == 0, mapped.output
    cases = [
        (["validate", str(source), "--event-type", "rate"], "--event-type takes SHOP=CANONICAL, got 'rate'"),
        (["validate", str(source), "--event-type", "rate=Like"], "--event-type rate: Input should be 'View'"),
        (
            ["validate", str(source), "--event-type", "Rate=View", "--event-type", "rate=Purchase"],
            "differ only in case",
        ),
        (["validate", str(source), "--layout", "csv"], "--layout must be auto, seed, rds or personalize"),
        (["export", "--layout", "rds", str(source), str(tmp_path / "out")], "--layout must be personalize"),
        (["export", str(source), str(tmp_path / "out")], "is not a canonical dataset"),
    ]
    for args, message in cases:
        result = runner.invoke(app, args)
        said = " ".join(result.output.split())
        assert result.exit_code == 1 and message in said and "Traceback" not in said, (args, said)
