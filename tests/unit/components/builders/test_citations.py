import pytest

from components.builders.citations import CitationStreamFilter, check_citations

pytestmark = pytest.mark.unit


def test_check_citations_drops_unknown_numbers():
    assert check_citations("Oui [1][7], voir [2-3] et [9].", 2) == ("Oui [1], voir [2] et.", [1, 2], [3, 7, 9])


def _filtered(chunks: list[str], count: int) -> tuple[list[str], str]:
    stream = CitationStreamFilter(count)
    shown = [stream.feed(c) for c in chunks]
    return shown, "".join(shown) + stream.close()


def test_stream_filter_holds_an_open_group_until_it_closes():
    shown, text = _filtered(["Montant de 3 € [", "1", "] et [", "7", "]."], 2)
    assert shown[0] == "Montant de 3 €"
    assert "[7]" not in text
    assert text == "Montant de 3 € [1] et."


def test_stream_filter_lets_brackets_that_are_not_citations_through():
    shown, text = _filtered(["Lot [A] : ", "[voir plan]"], 2)
    assert text == "Lot [A] : [voir plan]"
    assert shown == ["Lot [A] : ", "[voir plan]"]


def test_stream_filter_flushes_an_unfinished_group_at_the_end():
    assert _filtered(["Fin [1"], 2)[1] == "Fin [1"
