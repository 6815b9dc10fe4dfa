# One entry per thing a person does. Everything runs from the project venv that `make setup` creates.
PY := .venv/bin/python
RAG := $(PY) -m service

.PHONY: setup demo serve index validate draw test unit lint llm llm-stop bench-answers bench-security deploy-check

setup:            ## install everything: system packages, venv, offline models, local vLLM
	bash scripts/setup.sh

demo: setup       ## the main job on the embedded default: index the sample corpus, then serve it
	$(RAG) index samples/corpus
	$(RAG) serve

serve:            ## serve the configured pipelines (starts the local LLM when configured)
	$(RAG) serve

index:            ## index files or folders: make index PATHS="docs/ other/file.md"
	$(RAG) index $(PATHS)

validate:         ## load every graph in pipelines/ and report problems in plain words
	$(RAG) validate

draw:             ## write PNG, SVG and Mermaid drawings of every graph into docs/graphs
	$(RAG) draw --out docs/graphs

test:             ## the whole test suite, with the real servers it needs
	bash scripts/test.sh

unit:             ## unit tests only (nothing running needed)
	$(PY) -m pytest -m unit -q

deploy-check:     ## check deploy/ offline: Compose and Kubernetes schemas, and the stack against the service's settings
	$(PY) -m pytest -q tests/unit/deploy

lint:
	.venv/bin/ruff check components service indexing pipelines tests

bench-answers:    ## answers right, refusals, citations, latency with the configured LLM: samples, follow-ups, PIAF, spf-qr
	$(PY) bench/answers.py

bench-security:   ## the security probe: the service behind a test issuer, attacked; one row per attack
	$(PY) bench/security.py

llm:              ## start the local vLLM of hayhooks.yml (models.llm.local) and wait for it
	$(PY) -c "from service.settings import load_settings; from service.local_llm import ensure_local_llm; ensure_local_llm(load_settings())"

llm-stop:
	bash scripts/stop_llm.sh
