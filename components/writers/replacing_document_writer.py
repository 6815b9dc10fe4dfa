"""Write a file's new chunks to a store, removing the chunks of its previous version first."""

from haystack import Document, component
from haystack.components.writers.document_writer import DocumentWriter
from haystack.document_stores.types import DuplicatePolicy


@component
class ReplacingDocumentWriter(DocumentWriter):
    """
    Haystack's `DocumentWriter` that also removes the chunks a new version of a file replaces.

    `replaced_ids` are the ids of the chunks written for the previous versions of the files being written. Those that
    are not among the new chunks are deleted, then the new chunks are written (overwriting those with the same id):
    a query sees the old chunks or the new ones, never both. Writing the same chunks again changes nothing, so a
    run interrupted at any point and run again ends in the same state.
    """

    @component.output_types(documents_written=int)
    def run(
        self,
        documents: list[Document],
        replaced_ids: list[str] | None = None,
        policy: DuplicatePolicy | None = None,
    ) -> dict[str, int]:
        """
        :param documents: The new chunks.
        :param replaced_ids: The ids of the chunks of the files' previous versions.
        :param policy: The duplicate policy, else the one given at init.
        :returns: `documents_written`, the number of chunks written.
        """
        stale = sorted(set(replaced_ids or []) - {doc.id for doc in documents})
        if stale:
            self.document_store.delete_documents(stale)
        if not documents:
            return {"documents_written": 0}
        return DocumentWriter.run(self, documents=documents, policy=policy)

    @component.output_types(documents_written=int)
    async def run_async(
        self,
        documents: list[Document],
        replaced_ids: list[str] | None = None,
        policy: DuplicatePolicy | None = None,
    ) -> dict[str, int]:
        """
        The same as `run`, with the store's async methods where it has them.

        :param documents: The new chunks.
        :param replaced_ids: The ids of the chunks of the files' previous versions.
        :param policy: The duplicate policy, else the one given at init.
        :returns: `documents_written`, the number of chunks written.
        """
        stale = sorted(set(replaced_ids or []) - {doc.id for doc in documents})
        if stale:
            delete_async = getattr(self.document_store, "delete_documents_async", None)
            if delete_async is not None:
                await delete_async(stale)
            else:
                self.document_store.delete_documents(stale)
        if not documents:
            return {"documents_written": 0}
        return await DocumentWriter.run_async(self, documents=documents, policy=policy)
