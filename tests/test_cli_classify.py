"""``monitor classify``: files, /studies pages, stdin, --json, overrides, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from monitor.cli.classify import classify_cmd

EVAL = Path(__file__).parent / "eval" / "records"
FIELDS = {"nct_id", "product_class", "cell_free", "engineered", "source", "phase", "cancer", "cancer_types", "evidence"}


@click.group()
def cli() -> None:
    """A stand-in for the project's group until the lead registers the command."""


cli.add_command(classify_cmd)


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MONITOR_OVERRIDES_FILE", raising=False)
    return CliRunner()


def record(nct_id: str) -> dict:
    return json.loads((EVAL / f"{nct_id}.json").read_text(encoding="utf-8"))


def test_json_output_for_a_single_study(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["classify", str(EVAL / "NCT03608631.json"), "--json"])
    assert result.exit_code == 0, result.output
    [study] = json.loads(result.output)
    assert set(study) >= FIELDS
    assert study["nct_id"] == "NCT03608631"
    assert (study["product_class"], study["cell_free"], study["engineered"]) == ("extracellular_vesicle", True, True)
    assert study["phase"] == "PHASE1"
    assert study["cancer_types"] == ["pancreatic"]
    assert study["evidence"]["product_class"][0] == {
        "field": "interventions[0].name",
        "words": "Mesenchymal stromal cells-derived exosomes with KRAS G12D siRNA",
    }


def test_studies_page_and_several_files(runner: CliRunner, tmp_path: Path) -> None:
    page = tmp_path / "page.json"
    page.write_text(json.dumps({"studies": [record("NCT05523011"), record("NCT06451120")], "nextPageToken": "x"}))
    result = runner.invoke(cli, ["classify", str(page), str(EVAL / "NCT01779583.json"), "--json"])
    assert result.exit_code == 0, result.output
    studies = json.loads(result.output)
    assert [s["nct_id"] for s in studies] == ["NCT05523011", "NCT06451120", "NCT01779583"]
    assert [s["product_class"] for s in studies] == ["extracellular_vesicle", "other", "biomarker"]
    assert studies[2]["phase"] is None


def test_stdin(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["classify", "-", "--json"], input=json.dumps(record("NCT04134676")))
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)[0]["product_class"] == "cell_free_secretome"


def test_table_shows_class_and_key_evidence(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["classify", str(EVAL / "NCT02657460.json")])
    assert result.exit_code == 0, result.output
    assert "NCT02657460" in result.output
    assert "extracellular_vesicle" in result.output
    assert "tumor_cell" in result.output
    assert "interventions[0].name" in result.output  # evidence text is printed literally, not read as markup


def test_overrides_file_from_the_environment(runner: CliRunner, tmp_path: Path) -> None:
    overrides = tmp_path / "my-overrides.toml"
    overrides.write_text('[NCT06012604]\nsource = "msc_perinatal"\nnote = "UC-MSC per sponsor"\n')
    result = runner.invoke(
        cli,
        ["classify", str(EVAL / "NCT06012604.json"), "--json"],
        env={"MONITOR_OVERRIDES_FILE": str(overrides)},
    )
    assert result.exit_code == 0, result.output
    [study] = json.loads(result.output)
    assert study["source"] == "msc_perinatal"
    assert study["overridden"] == ["source"]
    assert study["evidence"]["source"] == [{"field": "override", "words": "UC-MSC per sponsor"}]


def test_default_overrides_file_in_working_directory(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "overrides.toml").write_text('[NCT06451120]\nproduct_class = "cell_free_secretome"\n')
    result = runner.invoke(cli, ["classify", str(EVAL / "NCT06451120.json"), "--json"])
    [study] = json.loads(result.output)
    assert (study["product_class"], study["cell_free"]) == ("cell_free_secretome", True)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param("{not json", "not valid JSON", id="invalid-json"),
        pytest.param('{"studies": [{"foo": 1}]}', "not a ClinicalTrials.gov study", id="not-a-study"),
        pytest.param("[1, 2]", "study 1 is not a ClinicalTrials.gov study", id="array-of-junk"),
    ],
)
def test_bad_input_is_one_line_naming_the_file(runner: CliRunner, tmp_path: Path, content: str, expected: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    result = runner.invoke(cli, ["classify", str(bad)])
    assert result.exit_code == 2
    assert expected in result.output and str(bad) in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_missing_file(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["classify", str(tmp_path / "missing.json")])
    assert result.exit_code == 2
    assert "missing.json: cannot read the file" in result.output


def test_invalid_overrides_file_is_a_config_error(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "overrides.toml").write_text('[NCT06451120]\nproduct_class = "exosome"\n')
    result = runner.invoke(cli, ["classify", str(EVAL / "NCT06451120.json")])
    assert result.exit_code == 2
    assert "overrides.toml" in result.output and "NCT06451120" in result.output and "product_class" in result.output


def test_no_file_is_a_usage_error(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["classify"])
    assert result.exit_code == 2


def test_module_imports_only_click_at_top_level() -> None:
    code = (
        "import sys; import monitor.cli.classify; "
        "heavy = {'rich', 'monitor.classify', 'json', 'tomllib'} & set(sys.modules); "
        "print(sorted(m for m in heavy if m != 'json'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
