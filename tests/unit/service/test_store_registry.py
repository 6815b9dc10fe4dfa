import pytest

from service.pipelines import build_pipeline
from service.store_registry import forget_document_stores, store_key

pytestmark = pytest.mark.unit


def _stores(pipeline):
    found = []
    for _, instance in pipeline.walk():
        for holder in (instance, getattr(instance, "retriever", None)):
            for attribute in ("document_store", "_document_store"):
                store = getattr(holder, attribute, None)
                if store is not None:
                    found.append(store)
    return found


def test_graphs_built_in_one_process_share_their_stores(settings):
    """The embedded Qdrant (Qdrant Edge) allows one instance per folder: the rag and indexing graphs share theirs."""
    forget_document_stores()
    rag = _stores(build_pipeline("rag", settings))
    indexing = _stores(build_pipeline("indexing", settings))
    assert len(indexing) == 2
    by_type = {type(s).__name__: s for s in rag}
    for store in indexing:
        assert by_type[type(store).__name__] is store
    again = _stores(build_pipeline("indexing", settings))
    assert [id(s) for s in again] == [id(s) for s in indexing]


def test_stores_in_other_folders_are_not_shared(settings, tmp_path):
    forget_document_stores()
    first = _stores(build_pipeline("indexing", settings))
    stores = settings.stores.model_copy(update={"data_dir": str(tmp_path / "elsewhere")})
    other = _stores(build_pipeline("indexing", settings.model_copy(update={"stores": stores})))
    assert not {id(s) for s in first} & {id(s) for s in other}
    assert {store_key(s) for s in first}.isdisjoint(store_key(s) for s in other)
