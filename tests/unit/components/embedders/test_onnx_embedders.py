import json

import numpy as np
import onnx
import pytest
from haystack import Document
from haystack.core.serialization import component_from_dict
from onnx import TensorProto, helper
from tokenizers import Tokenizer, models, pre_tokenizers

from components.embedders.onnx_document_embedder import OnnxDocumentEmbedder
from components.embedders.onnx_text_embedder import OnnxTextEmbedder

pytestmark = pytest.mark.unit

WORDS = ["<pad>", "<unk>", "passage:", "query:", "un", "deux", "trois", "titre"]
TABLE = np.arange(len(WORDS) * 3, dtype=np.float32).reshape(len(WORDS), 3) + 1.0  # token i -> a distinct vector


@pytest.fixture
def model_dir(tmp_path):
    """A sentence-transformers folder with a word-level tokenizer and an ONNX 'encoder': token state = TABLE[id]."""
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer.save(str(tmp_path / "tokenizer.json"))
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_mean_tokens": True}))
    (tmp_path / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 4}))
    nodes = [
        helper.make_node("Gather", ["table", "input_ids"], ["states"]),
        helper.make_node("Cast", ["attention_mask"], ["mask"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask", "last_axis"], ["mask3"]),
        helper.make_node("Mul", ["states", "mask3"], ["last_hidden_state"]),  # padding states zeroed, as BERT's are not
    ]
    graph = helper.make_graph(
        nodes,
        "toy",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "sequence"]),
        ],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", 3])],
        [
            helper.make_tensor("table", TensorProto.FLOAT, TABLE.shape, TABLE.ravel()),
            helper.make_tensor("last_axis", TensorProto.INT64, [1], [-1]),
        ],
    )
    (tmp_path / "onnx").mkdir()
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(tmp_path / "onnx" / "m.onnx"))
    return tmp_path


def expected(words: list[str], normalize: bool = True) -> np.ndarray:
    vector = TABLE[[WORDS.index(w) for w in words]].mean(axis=0)
    return vector / np.linalg.norm(vector) if normalize else vector


def test_run_mean_pools_each_text_whatever_its_batch(model_dir):
    embedder = OnnxDocumentEmbedder(model=str(model_dir), onnx_file="onnx/m.onnx", prefix="passage: ", batch_size=2)
    docs = [Document(content="un"), Document(content="deux trois un"), Document(content="trois")]
    out = embedder.run(documents=docs)["documents"]
    assert [d.content for d in out] == ["un", "deux trois un", "trois"]  # order kept although encoded longest first
    for doc in out:
        np.testing.assert_allclose(doc.embedding, expected(["passage:", *doc.content.split()]), rtol=1e-6)
    assert docs[0].embedding is None  # inputs are not mutated


def test_run_embeds_meta_fields_and_truncates_to_max_seq_length(model_dir):
    embedder = OnnxDocumentEmbedder(
        model=str(model_dir), onnx_file="onnx/m.onnx", prefix="passage: ", meta_fields_to_embed=["title"]
    )
    doc = Document(content="deux trois un deux", meta={"title": "titre"})
    assert embedder.text_to_embed(doc) == "passage: titre\ndeux trois un deux"
    (out,) = embedder.run(documents=[doc])["documents"]
    np.testing.assert_allclose(out.embedding, expected(["passage:", "titre", "deux", "trois"]), rtol=1e-6)


def test_text_embedder_matches_the_document_embedder(model_dir):
    text = OnnxTextEmbedder(model=str(model_dir), onnx_file="onnx/m.onnx", prefix="query: ", normalize_embeddings=False)
    document = OnnxDocumentEmbedder(model=str(model_dir), onnx_file="onnx/m.onnx", prefix="query: ")
    got = text.run(text="un deux")["embedding"]
    np.testing.assert_allclose(got, expected(["query:", "un", "deux"], normalize=False), rtol=1e-6)
    (doc,) = document.run(documents=[Document(content="un deux")])["documents"]
    np.testing.assert_allclose(doc.embedding, np.array(got) / np.linalg.norm(got), rtol=1e-6)


def test_to_dict_round_trip(model_dir):
    for embedder in (
        OnnxDocumentEmbedder(model=str(model_dir), onnx_file="onnx/m.onnx", prefix="p: ", meta_fields_to_embed=["t"]),
        OnnxTextEmbedder(model=str(model_dir), onnx_file="onnx/m.onnx", prefix="q: ", threads=1),
    ):
        data = embedder.to_dict()
        again = component_from_dict(type(embedder), data, "embedder")
        assert again.to_dict() == data


def test_missing_onnx_file_says_how_to_get_it(model_dir):
    embedder = OnnxTextEmbedder(model=str(model_dir), onnx_file="onnx/absent.onnx")
    with pytest.raises(FileNotFoundError, match=r"install_models\.py"):
        embedder.warm_up()


def test_other_pooling_is_refused(model_dir):
    (model_dir / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True}))
    with pytest.raises(ValueError, match="mean pooling"):
        OnnxDocumentEmbedder(model=str(model_dir), onnx_file="onnx/m.onnx").warm_up()


def test_bad_input_is_a_clear_error(model_dir):
    with pytest.raises(TypeError, match="list of Documents"):
        OnnxDocumentEmbedder(model=str(model_dir), onnx_file="onnx/m.onnx").run(documents=["text"])
    with pytest.raises(ValueError, match="batch_size"):
        OnnxDocumentEmbedder(model=str(model_dir), onnx_file="onnx/m.onnx", batch_size=0)
