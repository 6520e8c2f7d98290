"""The ``speakup themes`` command-line contract: tag (JSONL and CSV, files and stdin, order,
empty and non-English rows, streaming), evaluate, train, emerging, redact and list."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from analysis.themes.engine import ThemeEngine
from analysis.themes_cli import _rows, themes

ROOT = Path(__file__).resolve().parents[2]
LABELLED = ROOT / "tests" / "data" / "themes_labelled.csv"
ROWS = [
    ("a1", "Jobs go to the manager's friends and the post was never advertised."),
    ("b2", ""),
    ("c3", "Todo bien en mi equipo, gracias."),
    ("d4", "I have never been bullied, my team is lovely."),
    ("e5", "There's no point raising it, nothing happens."),
    ("f6", "They said I didn't have UK experience, I've been a nurse for 15 years."),
]


def write_csv(path: Path, rows: list[tuple[str, str]], header: tuple[str, ...] = ("id", "text")) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def csv_text(rows: list[tuple[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "text"])
    writer.writerows(rows)
    return buffer.getvalue()


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def check_jsonl(output: str) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in output.splitlines()]
    for line in lines:
        assert set(line) == {"id", "themes", "tone"}
        assert isinstance(line["tone"], float | int) and -1 <= line["tone"] <= 1
        assert isinstance(line["themes"], list)
        for theme in line["themes"]:
            assert set(theme) == {"id", "score", "evidence"}
            assert isinstance(theme["score"], float | int) and 0 <= theme["score"] <= 1
            assert theme["evidence"] and all(isinstance(e, str) for e in theme["evidence"])
    return lines


def test_tag_jsonl_contract(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(themes, ["tag", str(write_csv(tmp_path / "in.csv", ROWS))])
    assert result.exit_code == 0, result.output
    lines = check_jsonl(result.output)
    assert [line["id"] for line in lines] == [row_id for row_id, _ in ROWS]
    by_id = {line["id"]: line for line in lines}
    assert {t["id"] for t in by_id["a1"]["themes"]} >= {"nepotism_favouritism", "roles_not_advertised"}  # type: ignore[union-attr]
    assert by_id["b2"] == {"id": "b2", "themes": [], "tone": 0.0}
    assert by_id["c3"]["themes"] == [] and by_id["d4"]["themes"] == []
    assert [t["id"] for t in by_id["e5"]["themes"]] == ["fear_of_speaking_up"]  # type: ignore[union-attr,index]
    assert "racial_discrimination" in {t["id"] for t in by_id["f6"]["themes"]}  # type: ignore[union-attr]


def test_tag_reads_standard_input_and_extra_columns(runner: CliRunner) -> None:
    text = "text,id,other\n" + "\n".join(f'"{t}",{i},x' for i, t in ROWS if '"' not in t) + "\n"
    result = runner.invoke(themes, ["tag", "-"], input=text.encode("utf-8"))
    assert result.exit_code == 0, result.output
    assert [line["id"] for line in check_jsonl(result.output)] == [i for i, t in ROWS if '"' not in t]


def test_tag_csv_format(runner: CliRunner) -> None:
    result = runner.invoke(themes, ["tag", "-", "--format", "csv"], input=csv_text(ROWS).encode("utf-8"))
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert list(rows[0]) == ["id", "themes", "tone"]
    assert [r["id"] for r in rows] == [row_id for row_id, _ in ROWS]
    first = dict(pair.split(":") for pair in rows[0]["themes"].split("|"))
    assert "nepotism_favouritism" in first and all(0 <= float(v) <= 1 for v in first.values())
    assert rows[1]["themes"] == "" and float(rows[1]["tone"]) == 0.0


def test_tag_refuses_a_csv_without_the_columns(runner: CliRunner) -> None:
    result = runner.invoke(themes, ["tag", "-"], input=b"ident,comment\n1,hello\n")
    assert result.exit_code != 0
    assert "id and text" in result.output


def test_tag_survives_bad_bytes_and_a_bom(runner: CliRunner) -> None:
    data = "\ufeffid,text\n1,Jobs go to the manager's friends\n".encode() + b'2,"caf\xe9 \xff"\n'
    result = runner.invoke(themes, ["tag", "-"], input=data)
    assert result.exit_code == 0, result.output
    assert [line["id"] for line in check_jsonl(result.output)] == ["1", "2"]


class CountingStream(io.StringIO):
    """A text stream that counts the lines the CSV reader has pulled from it."""

    lines_read = 0

    def __next__(self) -> str:
        self.lines_read += 1
        return super().__next__()


def test_the_tag_pipeline_reads_at_most_one_batch_ahead() -> None:
    stream = CountingStream(csv_text([(str(i), "We are short staffed again.") for i in range(20_000)]))
    results = ThemeEngine.default().tag_rows(_rows(stream, "stdin"), batch=16)
    row_id, tagged = next(results)
    assert row_id == "0" and tagged.themes[0].theme == "staffing_workload"
    assert stream.lines_read <= 16 + 2  # the header, one batch, and the line the reader peeks
    for _ in range(99):
        next(results)
    assert stream.lines_read <= 112 + 2


def test_evaluate_prints_per_theme_figures_and_confusions(runner: CliRunner) -> None:
    result = runner.invoke(themes, ["evaluate", str(LABELLED), "--split", "dev2"])
    assert result.exit_code == 0, result.output
    for needle in ["precision", "recall", "nepotism_favouritism", "staffing_workload", "macro F1",
                   "micro F1", "Missed", "False alarms", "split dev2 (150 comments)"]:
        assert needle in result.output
    assert "split dev (" not in result.output and "split heldout4" not in result.output


def test_train_writes_a_model_and_compares_before_and_after(runner: CliRunner, tmp_path: Path) -> None:
    with LABELLED.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    small = tmp_path / "small.csv"
    with small.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["id", "text", "themes", "split"])
        writer.writeheader()
        # The command compares before and after on rows of split "heldout": mark 40 as such.
        writer.writerows([{**row, "split": "heldout"} for row in rows[:40]] + rows[150:330])
    output = tmp_path / "model.json"
    result = runner.invoke(themes, ["train", str(small), "--output", str(output)])
    assert result.exit_code == 0, result.output
    assert output.is_file() and json.loads(output.read_text())["format"] == "speakup-themes-model"
    assert "F1 before" in result.output and "F1 after" in result.output and "macro F1" in result.output
    tagged = runner.invoke(themes, ["tag", "-", "--model", str(output)], input=csv_text(ROWS[:1]).encode())
    assert tagged.exit_code == 0 and check_jsonl(tagged.output)[0]["themes"]


def test_train_adapt_starts_from_the_model(runner: CliRunner, tmp_path: Path) -> None:
    with LABELLED.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))[:60]
    small = tmp_path / "small.csv"
    with small.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["id", "text", "themes", "split"])
        writer.writeheader()
        writer.writerows({**row, "split": "dev"} for row in rows)
    adapted, cold = tmp_path / "adapted.json", tmp_path / "cold.json"
    assert runner.invoke(themes, ["train", str(small), "--output", str(adapted), "--adapt"]).exit_code == 0
    assert runner.invoke(themes, ["train", str(small), "--output", str(cold)]).exit_code == 0
    shipped = json.loads((ROOT / "config" / "themes" / "model.json").read_text())["features"]
    adapted_features = json.loads(adapted.read_text())
    # Sixty comments alone give a small model; adapting keeps what the shipped one learnt.
    assert len(json.loads(cold.read_text())["features"]) < len(shipped) / 2
    assert len(adapted_features["features"]) >= len(shipped) * 0.9
    assert adapted_features["metadata"]["prior"]["examples"] > 60


def test_train_refuses_unknown_themes(runner: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("id,text,themes\n1,hello,not_a_theme\n", encoding="utf-8")
    result = runner.invoke(themes, ["train", str(bad), "--output", str(tmp_path / "m.json")])
    assert result.exit_code != 0 and "unknown theme" in result.output


def test_emerging_redact_and_list(runner: CliRunner) -> None:
    rows = [(str(i), "The car park barrier is broken again and the car park charges went up.")
            for i in range(5)]
    emerging = runner.invoke(themes, ["emerging", "-"], input=csv_text(rows).encode())
    assert emerging.exit_code == 0 and "car park" in emerging.output
    redacted = runner.invoke(themes, ["redact", "-"],
                             input=csv_text([("1", "Ask Dr Okafor on Ward 7B, 07700 900123.")]).encode())
    assert redacted.exit_code == 0
    assert "Dr [NAME] on [WARD], [PHONE]." in redacted.output
    listed = runner.invoke(themes, ["list"])
    assert listed.exit_code == 0 and "fear_of_speaking_up" in listed.output


def _labelled_subset(path: Path, splits: set[str], *, sources: int = 0, limit: int = 10_000) -> Path:
    """Rows of the labelled file in ``splits`` (at most ``limit``), with a source column naming
    one of ``sources`` made-up sources (none when 0)."""
    with LABELLED.open(encoding="utf-8", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] in splits][:limit]
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "text", "themes", "split", *(["source"] if sources else [])])
        for i, r in enumerate(rows):
            writer.writerow([r["id"], r["text"], r["themes"], r["split"],
                             *([f"source-{i % sources}"] if sources else [])])
    return path


def test_evaluate_prints_intervals_and_false_alarms_by_source(runner: CliRunner, tmp_path: Path) -> None:
    data = _labelled_subset(tmp_path / "l.csv", {"dev3"}, sources=30)
    result = runner.invoke(themes, ["evaluate", str(data), "--bootstrap", "200"])
    assert result.exit_code == 0, result.output
    assert "embedding layer: sentence-transformers/all-MiniLM-L6-v2 (int8" in result.output
    assert "false alarms on no-theme comments:" in result.output
    assert "95% bootstrap intervals (200 resamples of sources)" in result.output
    macro = next(line for line in result.output.splitlines()
                 if line.strip().startswith("macro F1 ") and "[" in line)
    low, high = (float(x) for x in macro.split("[")[1].rstrip("]").split(","))
    assert 0.0 <= low <= float(macro.split()[2]) <= high <= 1.0


def test_evaluate_against_a_second_labelling(runner: CliRunner, tmp_path: Path) -> None:
    first = _labelled_subset(tmp_path / "first.csv", {"dev2"})
    with first.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows[::5]:
        row["themes"] = "" if row["themes"] else "bullying_harassment"
    second = tmp_path / "second.csv"
    with second.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["id", "text", "themes", "split"])
        writer.writeheader()
        writer.writerows(rows)
    same = runner.invoke(themes, ["evaluate", str(first), "--against", str(first), "--bootstrap", "0"])
    assert same.exit_code == 0, same.output
    assert "macro F1 1.000" in same.output
    differ = runner.invoke(themes, ["evaluate", str(first), "--against", str(second), "--bootstrap", "100"])
    assert differ.exit_code == 0, differ.output
    assert "Agreement:" in differ.output and "macro F1 1.000" not in differ.output
    assert "(150 shared comments)" in differ.output


@pytest.mark.slow
def test_train_embeddings_calibrate_and_cross_validate(runner: CliRunner, tmp_path: Path) -> None:
    data = _labelled_subset(tmp_path / "l.csv", {"dev2", "dev3"}, sources=12)
    output = tmp_path / "embedding.json"
    written = _labelled_subset(tmp_path / "written.csv", {"dev5"}, limit=50)
    trained = runner.invoke(themes, ["train-embeddings", str(data), "--output", str(output), "--folds", "2",
                                     "--extra-training", str(written)])
    assert trained.exit_code == 0, trained.output
    assert "Trained on 410 comments; thresholds calibrated on 360 (12 groups by source)" in trained.output
    model = json.loads(output.read_text())
    assert model["metadata"]["examples"] == 410 and set(model["thresholds"]) == set(model["themes"])
    assert model["metadata"]["calibration"]["comments"] == 360
    tagged = runner.invoke(themes, ["tag", "-", "--embedding-model", str(output)], input=csv_text(ROWS))
    assert tagged.exit_code == 0, tagged.output
    assert len(check_jsonl(tagged.output)) == len(ROWS)
    calibrated = tmp_path / "calibrated.json"
    other = _labelled_subset(tmp_path / "other.csv", {"dev4"})
    result = runner.invoke(themes, ["calibrate", str(other), "--embedding-model", str(output),
                                    "--output", str(calibrated)])
    assert result.exit_code == 0, result.output
    assert "Calibrated on 183 comments" in result.output
    assert json.loads(calibrated.read_text())["weights"] == model["weights"]
    cross = runner.invoke(themes, ["evaluate", str(data), "--cross-validate", "--folds", "2", "--no-model",
                                   "--bootstrap", "50"])
    assert cross.exit_code == 0, cross.output
    assert "Nested 2-fold cross-validation by source on 360 comments (12 groups)" in cross.output
    for title in ("rules + n-grams + embeddings", "rules + n-grams alone", "embeddings alone"):
        assert title in cross.output


def test_encoder_settings_reach_the_command_line(runner: CliRunner, tmp_path: Path) -> None:
    off = runner.invoke(themes, ["evaluate", str(LABELLED), "--split", "dev2", "--bootstrap", "0"],
                        env={"SPEAKUP_THEME_ENCODER": "off"})
    assert off.exit_code == 0 and "embedding layer: none" in off.output
    missing = runner.invoke(themes, ["tag", "-"], input=csv_text(ROWS),
                            env={"SPEAKUP_THEME_ENCODER": str(tmp_path)})
    assert missing.exit_code != 0 and "SPEAKUP_THEME_ENCODER_SHA256" in missing.output
    wrong = runner.invoke(themes, ["tag", "-"], input=csv_text(ROWS),
                          env={"SPEAKUP_THEME_ENCODER": str(tmp_path),
                               "SPEAKUP_THEME_ENCODER_SHA256": "0" * 64})
    assert wrong.exit_code != 0 and "model.safetensors" in wrong.output
