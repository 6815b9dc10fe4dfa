"""Hayhooks deployment of the `indexing` graph for uploaded files: `POST /upload/run` (multipart, field `files`).

The folder is not named `indexing`: Hayhooks registers a wrapper's module under its folder name, which would
shadow the project's `indexing` package. The graph is the same `pipelines/indexing/indexing.yml` that `rag index`
runs, and its stores are the server's own instances (service/store_registry.py), shared with the `rag` graph.
"""

from typing import Any

from fastapi import HTTPException, UploadFile
from hayhooks import BasePipelineWrapper

from indexing.index_files import shared_indexer
from indexing.uploads import UploadError, check_batch, owner_folder, save_upload
from service.gateway.access import upload_access_meta
from service.gateway.context import current_principal
from service.settings import load_settings


class PipelineWrapper(BasePipelineWrapper):
    def setup(self) -> None:
        self.settings = load_settings()
        self.folder = self.settings.resolve_path(self.settings.indexing.upload_dir)
        self.indexer = shared_indexer(self.settings)  # runs one at a time, with `rag index`'s (Indexer.index)

    def run_api(self, files: list[UploadFile] | None = None) -> dict[str, Any]:
        """
        Index uploaded files (PDF, Word, Excel, OpenDocument spreadsheets, PowerPoint, e-mails, scans and images,
        HTML, Markdown, TXT, CSV) into the uploader's own folder; a file uploaded again under the same name by the
        same user replaces its previous version. Who may see the documents comes from the uploader's token
        (`access.upload_meta`), never from the files. One refused file refuses the whole upload: nothing is saved.

        :param files: The files, as multipart form fields named `files`.
        :returns: The run's report: files added, updated, unchanged, skipped, without text and failed (with
            reasons), chunks written per file, and a summary with one line per file; sources are named
            `<uploader>/<file>`.
        """
        if not files:
            raise HTTPException(status_code=400, detail="No files: send them as multipart form fields named 'files'.")
        principal = current_principal()
        if principal is None:  # the gateway authenticates every caller of this route
            raise HTTPException(status_code=401, detail="Uploading needs an authenticated caller.")
        try:
            names = check_batch([f.filename for f in files], self.indexer.supported_suffixes())
        except UploadError as e:
            raise HTTPException(status_code=400, detail=str(e)) from None
        folder = owner_folder(self.folder, f"{principal.kind}-{principal.name}")
        access_meta = upload_access_meta(principal, self.settings.access)
        saved = [save_upload(folder, name, f.file.read(), access_meta) for name, f in zip(names, files, strict=True)]
        return self.indexer.index(saved, source_root=self.folder).to_dict()
