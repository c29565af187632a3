"""overrides.toml: loading, validation errors that name file / NCT id / field, and applying overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.classify import apply_overrides, classify_record, load_overrides
from monitor.domain import Classification, Evidence
from monitor.errors import ConfigError

BASE = Classification(
    product_class="extracellular_vesicle",
    cell_free=True,
    engineered=False,
    source="msc_unspecified",
    phase="PHASE1",
    cancer=False,
    cancer_types=(),
    evidence={"product_class": (Evidence("interventions[0].name", "MSC exosomes"),)},
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "overrides.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_missing_file_means_no_overrides(tmp_path: Path) -> None:
    assert load_overrides(tmp_path / "nope.toml") == {}


def test_load_valid_overrides(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[NCT01234567]
product_class = "cell_based"
cell_free = false
note = "MSC infusion; exosomes only in the background text"

[NCT07654321]
phase = "PHASE1/PHASE2"
cancer = true
cancer_types = ["head_and_neck"]
source = "msc_perinatal"
""",
    )
    loaded = load_overrides(path)
    assert loaded["NCT01234567"] == {
        "product_class": "cell_based",
        "cell_free": False,
        "note": "MSC infusion; exosomes only in the background text",
    }
    assert loaded["NCT07654321"]["cancer_types"] == ("head_and_neck",)
    assert loaded["NCT07654321"]["phase"] == "PHASE1/PHASE2"


@pytest.mark.parametrize(
    ("text", "nct_id", "field"),
    [
        pytest.param('[NCT123]\nproduct_class = "other"\n', "NCT123", None, id="bad-nct-id"),
        pytest.param('[nct01234567]\nproduct_class = "other"\n', "nct01234567", None, id="lower-case-id"),
        pytest.param('[NCT01234567]\nproduct_klass = "other"\n', "NCT01234567", "product_klass", id="unknown-field"),
        pytest.param('[NCT01234567]\nproduct_class = "exosome"\n', "NCT01234567", "product_class", id="bad-class"),
        pytest.param('[NCT01234567]\nsource = "cord"\n', "NCT01234567", "source", id="bad-source"),
        pytest.param('[NCT01234567]\ncell_free = "yes"\n', "NCT01234567", "cell_free", id="bool-as-string"),
        pytest.param('[NCT01234567]\nphase = "PHASE5"\n', "NCT01234567", "phase", id="bad-phase"),
        pytest.param('[NCT01234567]\ncancer_types = ["lungs"]\n', "NCT01234567", "cancer_types", id="bad-type"),
        pytest.param('[NCT01234567]\ncancer_types = "lung"\n', "NCT01234567", "cancer_types", id="types-not-list"),
        pytest.param('NCT01234567 = "other"\n', "NCT01234567", None, id="not-a-table"),
    ],
)
def test_invalid_overrides_name_file_nct_id_and_field(
    tmp_path: Path, text: str, nct_id: str, field: str | None
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_overrides(path)
    message = str(caught.value)
    assert str(path) in message
    assert nct_id in message
    if field:
        assert field in message
    assert "\n" not in message


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[NCT01234567\nproduct_class = \n")
    with pytest.raises(ConfigError, match="overrides.toml"):
        load_overrides(path)


def test_override_wins_and_lists_fields_with_note_as_evidence() -> None:
    result = apply_overrides(BASE, {"source": "msc_perinatal", "note": "umbilical cord per the sponsor"})
    assert result.source == "msc_perinatal"
    assert result.overridden == frozenset({"source"})
    assert result.evidence["source"] == (Evidence("override", "umbilical cord per the sponsor"),)
    assert result.evidence["product_class"] == BASE.evidence["product_class"]


def test_override_without_note_says_where_it_came_from() -> None:
    result = apply_overrides(BASE, {"engineered": True})
    assert result.evidence["engineered"] == (Evidence("override", "set in overrides.toml"),)


def test_overriding_product_class_recomputes_cell_free() -> None:
    result = apply_overrides(BASE, {"product_class": "cell_based"})
    assert (result.product_class, result.cell_free) == ("cell_based", False)
    assert result.overridden == frozenset({"product_class"})
    assert "cell_based" in result.evidence["cell_free"][0].words


def test_explicit_cell_free_override_is_kept() -> None:
    result = apply_overrides(BASE, {"product_class": "cell_based", "cell_free": True})
    assert result.cell_free is True
    assert result.overridden == frozenset({"product_class", "cell_free"})


def test_phase_none_clears_the_phase(tmp_path: Path) -> None:
    loaded = load_overrides(write(tmp_path, '[NCT01234567]\nphase = "none"\n'))
    assert apply_overrides(BASE, loaded["NCT01234567"]).phase is None


def test_empty_override_changes_nothing() -> None:
    assert apply_overrides(BASE, {}) == BASE


def test_apply_rejects_unknown_fields() -> None:
    with pytest.raises(ConfigError, match="colour"):
        apply_overrides(BASE, {"colour": "blue"})


def test_overrides_apply_to_a_real_classification(tmp_path: Path) -> None:
    record = {
        "protocolSection": {
            "identificationModule": {"nctId": "NCT01234567", "briefTitle": "MSC Exosomes"},
            "armsInterventionsModule": {"interventions": [{"type": "BIOLOGICAL", "name": "MSC exosomes"}]},
        }
    }
    loaded = load_overrides(write(tmp_path, '[NCT01234567]\ncancer = true\ncancer_types = ["lung"]\n'))
    result = apply_overrides(classify_record(record), loaded["NCT01234567"])
    assert (result.cancer, result.cancer_types, result.product_class) == (True, ("lung",), "extracellular_vesicle")
