"""Hayhooks deployment of the `indexing` graph for uploaded files: `POST /upload/run` (multipart, field `files`).

The folder is not named `indexing`: Hayhooks registers a wrapper's module under its folder name, which would
shadow the project's `indexing` package. The graph is the same `pipelines/indexing/indexing.yml` that `rag index`
runs, and its stores are the server's own instances (service/store_registry.py), shared with the `rag` graph.
"""

from typing import Any

from fastapi import HTTPException, UploadFile
from hayhooks import BasePipelineWrapper

from indexing.index_files import shared_indexer
from indexing.uploads import UploadError, save_upload
from service.settings import load_settings


class PipelineWrapper(BasePipelineWrapper):
    def setup(self) -> None:
        self.settings = load_settings()
        self.folder = self.settings.resolve_path(self.settings.indexing.upload_dir)
        self.indexer = shared_indexer(self.settings)  # runs one at a time, with `rag index`'s (Indexer.index)

    def run_api(self, files: list[UploadFile] | None = None) -> dict[str, Any]:
        """
        Index uploaded files (PDF, Word, Excel, OpenDocument spreadsheets, PowerPoint, e-mails, scans and images,
        HTML, Markdown, TXT, CSV); a file uploaded again under the same name replaces its previous version.

        :param files: The files, as multipart form fields named `files`.
        :returns: The run's report: files added, updated, unchanged, skipped, without text and failed (with
            reasons), chunks written per file, and a summary with one line per file.
        """
        if not files:
            raise HTTPException(status_code=400, detail="No files: send them as multipart form fields named 'files'.")
        try:
            supported = self.indexer.supported_suffixes()
            saved = [save_upload(self.folder, f.filename, f.file.read(), supported) for f in files]
        except UploadError as e:
            raise HTTPException(status_code=400, detail=str(e)) from None
        return self.indexer.index(saved).to_dict()
