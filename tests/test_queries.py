from pathlib import Path

import pytest

from monitor.domain import EventKind
from monitor.errors import ConfigError
from monitor.queries import check_expression, load_queries

ROOT = Path(__file__).resolve().parents[1]


def test_shipped_query_loads_and_covers_the_product_terms():
    (query,) = load_queries(ROOT / "queries")
    assert query.name == "secretome-cancer"
    term = query.ctgov_terms[0].lower()
    for word in ("secretome", "conditioned medium", "culture supernatant", "cell lysate", "exosome",
                 "extracellular vesicle", "microvesicles", "microparticles", "nanovesicles", "cell-free",
                 "msc-derived", "cancer", "tumour", "carcinoma", "neoplasm", "malignancy", "metastatic",
                 "leukaemia", "lymphoma", "glioma", "melanoma", "sarcoma", "mucositis"):
        assert word in term, word
    assert query.pubmed_term and query.rss_urls == ()
    assert EventKind.EFFICACY_REPORTED in query.alert_kinds
    assert query.new_trial_alert_requires_cell_free_cancer


def write(tmp_path: Path, text: str, name: str = "q.toml") -> Path:
    (tmp_path / name).write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('name = "x"\n[ctgov]\nterms = ["(exosome AND cancer"]\n', "ctgov.terms[0]"),
        ('name = "x"\n[ctgov]\nterms = "exosome"\n', "ctgov.terms"),
        ('name = "x"\n[ctgov]\nterms = ["exosome"]\n[alerts]\nkinds = ["everything"]\n', "alerts.kinds"),
        ('name = "x"\n[ctgov]\nterms = ["exosome"]\n[pubmed]\nrss = ["ftp://x"]\n', "pubmed.rss"),
        ('name = "x"\n[ctgov]\nterms = ["exosome"]\nextra = 1\n', "ctgov.extra"),
        ('name = "bad name"\n[ctgov]\nterms = ["exosome"]\n', "name"),
        ('name = "x"\n', "ctgov.terms"),
        ('name = "x"\n[ctgov]\nterms = ["a"]\n[alerts]\nnew_trial = "some"\n', "alerts.new_trial"),
    ],
    ids=["unbalanced", "not-a-list", "unknown-kind", "bad-url", "unknown-field", "bad-name", "empty", "new-trial"],
)
def test_bad_query_names_file_and_field(tmp_path, text, field):
    folder = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_queries(folder)
    assert "q.toml" in str(err.value)
    assert f"field '{field}'" in str(err.value)


def test_invalid_toml_names_the_file(tmp_path):
    with pytest.raises(ConfigError, match=r"q\.toml: not valid TOML"):
        load_queries(write(tmp_path, "name = "))


def test_duplicate_names_and_unknown_selection(tmp_path):
    write(tmp_path, 'name = "a"\n[ctgov]\nterms = ["x"]\n', "one.toml")
    write(tmp_path, 'name = "b"\n[ctgov]\nterms = ["y"]\n', "two.toml")
    assert [q.name for q in load_queries(tmp_path, ["b"])] == ["b"]
    with pytest.raises(ConfigError, match="unknown query 'c'"):
        load_queries(tmp_path, ["c"])
    write(tmp_path, 'name = "a"\n[ctgov]\nterms = ["z"]\n', "three.toml")
    with pytest.raises(ConfigError, match="also used by"):
        load_queries(tmp_path)


def test_missing_folder_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_queries(tmp_path / "nope")


@pytest.mark.parametrize(("expr", "ok"), [('a AND "b (c"', True), ("(a OR b)", True), ("a)", False),
                                          ('"a', False), ("((a)", False)])
def test_check_expression(expr, ok):
    assert (check_expression(expr) is None) is ok
