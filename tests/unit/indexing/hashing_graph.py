"""The real `indexing` graph with a hashing stand-in for its embedder, so that nothing loads a model."""

import hashlib

from haystack import Document, Pipeline, component

from service.pipelines import ALLOWED_MODULES, bound_definition
from service.store_registry import share_document_stores


@component
class HashingEmbedder:
    """Stands in for the sentence-transformers embedder: a fixed vector per text."""

    def __init__(self, dimension: int = 384) -> None:
        self.dimension = dimension
        self.embedded = 0

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict:
        HashingEmbedder.calls.append(len(documents))
        out = []
        for doc in documents:
            digest = hashlib.sha256((doc.content or "").encode()).digest()
            vector = [b / 255 + 0.01 for b in digest] * (self.dimension // 32)
            out.append(Document(id=doc.id, content=doc.content, meta=doc.meta, embedding=vector))
        return {"documents": out}


HashingEmbedder.calls = []


def indexing_graph(settings) -> Pipeline:
    data = bound_definition("indexing", settings)
    data["components"]["document_embedder"] = {"type": f"{__name__}.HashingEmbedder", "init_parameters": {}}
    return share_document_stores(Pipeline.from_dict(data, allowed_modules=[*ALLOWED_MODULES, __name__]))
