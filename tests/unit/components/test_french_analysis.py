import re

import pytest
from pydantic import ValidationError

from components.french_analysis import (
    CODE_PUNCTUATION,
    DEFAULT_CODE_PATTERNS,
    ELASTICSEARCH_ANALYSIS,
    FrenchAnalyzer,
    codes_in,
    contains_whole,
    fold,
    folded_stop_words,
    is_code,
    names_code,
    plain,
    proper_names,
    use_code_patterns,
)
from service.settings import DomainSettings

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def analyzer() -> FrenchAnalyzer:
    return FrenchAnalyzer()


def test_words_drop_elisions_and_stop_words_fold_and_stem(analyzer):
    assert analyzer.words("Quel est le montant de l'affaire qu'ils ont réalisée ?") == ["mont", "affair", "realise"]
    assert analyzer.words("Chaussées CHAUSSÉE chaussee") == ["chausse"] * 3
    assert analyzer.words("mise en œuvre d’enrobés") == ["mis", "oeuvr", "enrob"]


def test_words_keep_decimal_numbers_whole(analyzer):
    assert analyzer.words("386 420,00 € HT, soit 3.5 km") == ["386", "420,00", "ht", "3.5", "km"]


def test_no_stemming(analyzer):
    assert FrenchAnalyzer(stemmer="none").words("Les chaussées posées") == ["chaussees", "posees"]


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("affaire A2458.", ["a2458"]),
        ("(norme NF P 98-331)", ["98-331", "nf p 98-331", "p 98-331"]),
        ("selon NF EN 13108-1, on", ["13108-1", "nf en 13108-1", "en 13108-1"]),
        ("en BB 0/10 ;", ["0/10", "bb 0/10"]),
        ("GNT 0/31,5.", ["0/31,5", "gnt 0/31,5"]),
        ("période 2025-11 : ", ["2025-11"]),
        ("Facture **F2025-0412**, l'A2511", ["f2025-0412", "a2511"]),
        ("la RD 912 et 31 juillet 2025", ["rd 912"]),
        ("386 420,00 € HT", []),
    ],
)
def test_codes_are_kept_whole(analyzer, text, codes):
    assert analyzer.codes(text) == codes


def test_tokens_are_words_then_new_codes(analyzer):
    assert analyzer.tokens("Enrobé BB 0/10 de l'affaire A2458") == [
        "enrob",
        "bb",
        "0",
        "10",
        "affair",
        "a2458",
        "0/10",
        "bb 0/10",
    ]


def test_neighbouring_codes_share_no_code_token(analyzer):
    assert not set(analyzer.codes("A2458 F2025-0412 NF P 98-331")) & set(analyzer.codes("A2459 F2025-0413 NF P 98-330"))


def test_fold_and_is_code():
    assert fold("Œuvre à l'École, cœur") == "OEuvre a l'Ecole, coeur"
    assert [is_code(t) for t in ["A2458", "98-331", "0/10", "2025", "31,5", "béton"]] == [True] * 3 + [False] * 3
    assert {"ete", "etaient", "combien", "l", "qu"} <= folded_stop_words()


def test_elasticsearch_settings_share_the_python_analysis():
    char_filter = ELASTICSEARCH_ANALYSIS["char_filter"]["code_punctuation"]
    assert char_filter["pattern"] == CODE_PUNCTUATION
    assert re.sub(CODE_PUNCTUATION, " ", "(NF P 98-331). l'A2458, 0/31,5").split() == [
        "NF",
        "P",
        "98-331",
        "A2458",
        "0/31,5",
    ]
    assert ELASTICSEARCH_ANALYSIS["filter"]["french_stop"]["stopwords"] == sorted(folded_stop_words())
    assert ELASTICSEARCH_ANALYSIS["analyzer"]["french_custom"]["filter"] == [
        "french_elision",
        "lowercase",
        "asciifolding",
        "french_stop",
        "french_stemmer",
    ]


def test_plain_folds_case_accents_apostrophes_and_spaces():
    assert plain("L’Œuvre a été réalisée\u00a0à 10\u202fh") == "l'oeuvre a ete realisee a 10 h"


def test_contains_whole_never_matches_inside_a_longer_code():
    assert contains_whole("Affaire A2458 – RD 912", "a2458")
    assert contains_whole("couche en BB  0/10", "BB 0/10")
    assert not contains_whole("Affaire A24581", "A2458")
    assert not contains_whole("enrobé BB 0/100", "BB 0/10")
    assert not contains_whole("le 2025-11-03", "2025-11")
    assert not contains_whole("texte", "  ")


def test_proper_names_are_capitalised_words_that_do_not_open_a_sentence():
    text = "Le montant du pont de la Chaume ? Présente la commune de Bréchy, client du SIEAL et du Val-de-Lière."
    assert proper_names(text) == ["Chaume", "Bréchy", "Val"]
    assert proper_names("") == []


def test_codes_are_found_whole():
    text = (
        "Affaire A2458, facture F2025-0412, procédure PRO-SEC-04, carotte C07, norme NF P 98-331, RD 912, marché "
        "2024-VH-07 ; 2025, 2025-11-03, 2024-2025."
    )
    assert codes_in(text) == ["A2458", "F2025-0412", "PRO-SEC-04", "C07", "NF P 98-331", "RD 912", "2024-VH-07"]


def test_ordinals_and_measures_written_as_one_word_are_not_codes():
    assert codes_in("Le 1er mars, au 20e siècle, sur 100m et 3 m², le 2nd lot") == []


def test_a_code_is_named_whole_with_its_spaces_optional():
    assert names_code("Travaux sur la RD912 au PR 14+200", "RD 912")
    assert names_code("Affaire A2458 – RD 912", "A2458")
    assert not names_code("Affaire A24581", "A2458")
    assert not names_code("Travaux sur la RD 9120", "RD 912")


def test_a_company_adds_its_code_shapes_by_configuration():
    assert codes_in("Présente-moi l'affaire 24-017.") == []  # the built-in shapes want a letter
    try:
        use_code_patterns([*DEFAULT_CODE_PATTERNS, r"\d{2}-\d{3}"])
        assert codes_in("Présente-moi l'affaire 24-017 et le devis D2025-087.") == ["24-017", "D2025-087"]
        assert codes_in("entre 10 et 12 cm, 3-4 jours") == []  # not the configured shape
    finally:
        use_code_patterns(None)
    assert codes_in("l'affaire 24-017") == []


def test_a_code_pattern_that_is_no_regular_expression_is_a_clear_error():
    with pytest.raises(ValidationError, match="is not a regular expression"):
        DomainSettings(code_patterns=["(unclosed"])
