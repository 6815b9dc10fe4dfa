import pytest
from haystack import Document
from haystack.core.serialization import component_from_dict, component_to_dict

from components.preprocessors import StructuredDocumentSplitter
from components.preprocessors.structured_document_splitter import parse_blocks
from service.settings import PROJECT_ROOT

pytestmark = pytest.mark.unit

EMBEDDER = PROJECT_ROOT / "var" / "models" / "multilingual-e5-small"
ROWS = "\n".join(f"| PR 12+{i:03} | 6,{i % 10} | 9{i % 10},1 % |" for i in range(30))
REPORT = f"""# Rapport d'essais A2458

## Contexte
Le chantier a démarré le 3 mars 2025. {"Les travaux portent sur le renforcement de la chaussée de la RD 912. " * 12}

## Résultats
| Section | Épaisseur (cm) | Compacité |
| --- | --- | --- |
{ROWS}
\fConclusion : conforme.
"""


def _split(text=REPORT, max_tokens=60, overlap_tokens=12, tokenizer=None, **meta):
    splitter = StructuredDocumentSplitter(tokenizer=tokenizer, max_tokens=max_tokens, overlap_tokens=overlap_tokens)
    doc = Document(content=text, meta={"file_path": "/corpus/rapport.pdf", "file_hash": "abc", **meta})
    return splitter, splitter.run(documents=[doc])["documents"]


def test_init_validates():
    with pytest.raises(ValueError, match="max_tokens"):
        StructuredDocumentSplitter(max_tokens=4)
    with pytest.raises(ValueError, match="overlap_tokens"):
        StructuredDocumentSplitter(max_tokens=100, overlap_tokens=60)


def test_to_dict_from_dict():
    data = component_to_dict(StructuredDocumentSplitter(tokenizer="m", max_tokens=200, overlap_tokens=20), "splitter")
    assert data["init_parameters"] == {"tokenizer": "m", "max_tokens": 200, "overlap_tokens": 20}
    assert component_from_dict(StructuredDocumentSplitter, data, "splitter").max_tokens == 200


def test_parse_blocks_sections_tables_pages():
    blocks = parse_blocks(REPORT, paged=True)
    kinds = [b.kind for b in blocks]
    assert kinds[:5] == ["heading", "heading", "text", "heading", "table"]
    table = blocks[4]
    assert table.section == ["Rapport d'essais A2458", "Résultats"]
    assert table.header.splitlines()[0].startswith("| Section")
    assert len(table.rows) == 30
    assert blocks[-1].page == 2


def test_chunks_respect_the_token_limit_and_follow_sections():
    splitter, chunks = _split()
    for chunk in chunks:
        assert splitter.count_tokens([chunk.content])[0] <= 60 + 2  # joins may add a token
    assert chunks[0].content.startswith("# Rapport d'essais A2458\n\n## Contexte")
    assert chunks[0].meta["section"] == "Rapport d'essais A2458 > Contexte"
    assert chunks[0].meta["section_path"] == ["Rapport d'essais A2458", "Contexte"]
    assert [c.meta["chunk_index"] for c in chunks] == list(range(len(chunks)))
    assert all(c.meta["chunk_count"] == len(chunks) for c in chunks)
    assert chunks[0].meta["page"] == 1
    assert chunks[-1].meta["page_end"] == 2


def test_consecutive_chunks_of_a_section_overlap():
    _, chunks = _split()
    context = [c for c in chunks if c.meta["section"].endswith("Contexte")]
    assert len(context) >= 2
    tail_words = context[0].content.split()[-3:]
    assert " ".join(tail_words) in context[1].content


def test_tables_are_cut_between_rows_and_repeat_their_header():
    _, chunks = _split()
    tables = [c for c in chunks if c.meta["has_table"]]
    assert len(tables) >= 2
    seen = []
    for chunk in tables:
        lines = [line for line in chunk.content.splitlines() if line.startswith("|")]
        assert lines[0] == "| Section | Épaisseur (cm) | Compacité |"
        assert lines[1] == "| --- | --- | --- |"
        seen += lines[2:]
        assert all(line.endswith("|") for line in lines)
    assert seen == ROWS.splitlines()


def test_ids_are_deterministic_and_depend_on_the_file():
    _, first = _split()
    _, again = _split()
    _, other = _split(file_hash="def")
    assert [c.id for c in first] == [c.id for c in again]
    assert len({c.id for c in first}) == len(first)
    assert not {c.id for c in first} & {c.id for c in other}


def test_metadata_is_carried_to_every_chunk():
    _, chunks = _split(code_affaire="A2458", service="labo")
    assert all(c.meta["code_affaire"] == "A2458" and c.meta["service"] == "labo" for c in chunks)


def test_documents_without_structure_and_empty_ones():
    _, chunks = _split(text="Une phrase. " * 100)
    assert len(chunks) > 1
    assert "page" not in chunks[0].meta
    _, empty = _split(text="")
    assert empty == []


@pytest.mark.skipif(not (EMBEDDER / "tokenizer.json").is_file(), reason="the embedder is installed by setup.sh")
def test_counts_tokens_with_the_embedders_tokenizer():
    splitter, chunks = _split(tokenizer=str(EMBEDDER), max_tokens=64)
    assert splitter.count_tokens(["Compacité"])[0] > 1  # sub-word tokens, not words
    assert splitter.count_tokens(["mot " * 600])[0] >= 600  # no truncation at 512
    assert all(splitter.count_tokens([c.content])[0] <= 66 for c in chunks)
