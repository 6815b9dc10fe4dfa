"""A converted file's metadata, gathered from its sidecar, front matter, folders and path."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import frontmatter
import yaml
from haystack import Document, component, logging

logger = logging.getLogger(__name__)

SIDECAR_SUFFIXES = (".meta.yml", ".meta.yaml", ".meta.json")
FOLDER_META_NAMES = ("_meta.yml", "_meta.yaml")
DEFAULT_KEY_FIELDS = ["code_affaire", "client", "commune", "site", "lot"]
# Set by the indexer or computed here: no metadata file can override them.
SYSTEM_FIELDS = ("file_path", "source", "file_type", "file_hash")

_FIRST_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_TRUE = {"true", "yes", "oui", "1", "vrai"}
_WORD = re.compile(r"[^\W\d_]{3,}")  # three letters or more: "rapport", "CCTP"; not "12", "F34355", "v2"


def plain(value: Any) -> Any:
    """Metadata values every store accepts: dates as ISO strings, lists and scalars as they are."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple | set):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return value


def file_title(file_path: Path) -> str | None:
    """
    A title read from a file name that has words in it ("CCTP_A2458_chaussee.pdf" -> "CCTP A2458 chaussee").

    A name with no word in it ("12.md", "F34355.pdf") is no title: embedded with the
    passages, such a name only adds noise (measured: -0.016 nDCG@10 for dense retrieval on cnil-faq paraphrase);
    sources then show the file name.
    """
    stem = re.sub(r"[_\s]+", " ", file_path.stem).strip()
    return stem if _WORD.search(stem) else None


MAX_METADATA_CHARS = 64 * 1024  # a metadata file or front matter is a few fields, never a document


class PlainYAMLLoader(yaml.SafeLoader):
    """
    YAML without anchors and aliases: metadata needs none, and a few hundred bytes of nested aliases expand to a
    billion items (a « billion laughs » file would hold the indexer, or the service indexing an upload).
    """

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent) or getattr(self.peek_event(), "anchor", None):
            raise yaml.YAMLError(
                f"anchors and aliases are not allowed in metadata (line {self.peek_event().start_mark.line + 1})"
            )
        return super().compose_node(parent, index)


def load_metadata_yaml(text: str) -> Any:
    """YAML metadata, refused when longer than MAX_METADATA_CHARS or when it uses anchors and aliases."""
    if len(text) > MAX_METADATA_CHARS:
        raise yaml.YAMLError(f"metadata longer than {MAX_METADATA_CHARS // 1024} KiB")
    return yaml.load(text, Loader=PlainYAMLLoader)  # noqa: S506 (a SafeLoader that also refuses aliases)


class _FrontMatterYAML(frontmatter.YAMLHandler):
    def load(self, fm: str, **kwargs: object) -> Any:
        return load_metadata_yaml(fm)


def read_metadata_file(path: Path) -> dict[str, Any]:
    """A YAML or JSON mapping; {} when the file is absent. Raises ValueError when it is not a mapping."""
    if not path.is_file():
        return {}
    if path.stat().st_size > MAX_METADATA_CHARS * 4:
        raise ValueError(f"{path.name} is larger than a metadata file can be ({MAX_METADATA_CHARS // 1024} KiB)")
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if path.suffix == ".json" else load_metadata_yaml(text)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{path.name} must hold a mapping of fields")
    return {str(k): plain(v) for k, v in data.items()}


def sidecar_paths(file_path: Path) -> list[Path]:
    """`<file>.meta.yml`, `<file>.meta.yaml`, `<file>.meta.json` next to the file."""
    return [file_path.with_name(file_path.name + suffix) for suffix in SIDECAR_SUFFIXES]


def folder_meta_paths(file_path: Path, root: Path | None) -> list[Path]:
    """The `_meta.yml` files that apply to a file, from the indexed root down to its own folder."""
    folders = [file_path.parent]
    if root is not None and root != file_path.parent and file_path.parent.is_relative_to(root):
        folders = [root, *[root / p for p in _prefixes(file_path.parent.relative_to(root))]]
    return [folder / name for folder in folders for name in FOLDER_META_NAMES]


def _prefixes(relative: Path) -> list[Path]:
    parts = relative.parts
    return [Path(*parts[: i + 1]) for i in range(len(parts))]


def metadata_files(file_path: Path, root: Path | None) -> list[Path]:
    """Every metadata file that can change a file's metadata (for change detection by the indexer)."""
    return [*folder_meta_paths(file_path, root), *sidecar_paths(file_path)]


def apply_path_rules(source: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    """
    Metadata from path conventions: each rule's `pattern` (a regex searched in the source path) gives its named
    groups as fields, plus the fixed fields of its `meta`. Later rules win.
    """
    found: dict[str, Any] = {}
    for rule in rules:
        match = re.search(rule["pattern"], source)
        if match:
            found.update({k: v for k, v in match.groupdict().items() if v is not None})
            found.update(rule.get("meta") or {})
    return found


def _root_of(file_path: Path, roots: list[Path]) -> Path | None:
    candidates = [r for r in roots if r != file_path and file_path.is_relative_to(r)]
    return max(candidates, key=lambda r: len(r.parts)) if candidates else None


def _as_bool(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).strip().lower() in _TRUE


@component
class DocumentMetadataResolver:
    """
    Gives each converted file the metadata that retrieval, boosting and access control use.

    Fields are taken, highest precedence first, from a sidecar file (`<file>.meta.yml` / `.yaml` / `.json`), the
    document's YAML front matter (removed from the text), the `_meta.yml` of its folders (the nearest folder wins),
    and path conventions (`path_rules`). The system fields `file_path`, `source` (the path relative to the indexed
    folder), `file_type` and `file_hash` (SHA-256 of the file's bytes) are always set here. A document without a
    title gets its first Markdown heading, else its file name. Documents with no tags and none of the key fields
    get `has_key_metadata: false`, so that ranking can penalise them. `reference` (norms, procedures) is a boolean.
    A mail's attachment (`attachment` set by `MailAttachmentExtractor`) keeps its mail's file and metadata files, and
    is named `<mail source>/<attachment name>`, with the type and title of the attachment itself.
    """

    def __init__(
        self,
        path_rules: list[dict[str, Any]] | None = None,
        key_fields: list[str] | None = None,
    ) -> None:
        """
        :param path_rules: Path conventions, e.g. `[{"pattern": "(?:^|/)(?P<code_affaire>[A-Z]\\\\d{4})_"}]`;
            each rule may add fixed fields with `meta`.
        :param key_fields: The business fields that count as key metadata.
        """
        self.path_rules = path_rules or []
        self.key_fields = key_fields if key_fields is not None else list(DEFAULT_KEY_FIELDS)
        for rule in self.path_rules:
            re.compile(rule["pattern"])  # a bad pattern fails when the graph is built, not per file

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document], roots: list[str] | None = None) -> dict[str, Any]:
        """
        :param documents: Converted documents with the full path of their file in `file_path`.
        :param roots: The folders being indexed: `source` is relative to the one holding the file, and `_meta.yml`
            files are read from it down. Without it, `source` is the file name.
        :returns: `documents`, new documents with the resolved metadata and the front matter removed.
        """
        root_paths = [Path(r) for r in roots or []]
        return {"documents": [self._resolve(doc, root_paths) for doc in documents]}

    def _resolve(self, doc: Document, roots: list[Path]) -> Document:
        file_path = Path(str(doc.meta.get("file_path") or ""))
        root = _root_of(file_path, roots) if file_path.name else None
        source = file_path.relative_to(root).as_posix() if root else file_path.name
        front, body = self._front_matter(doc.content or "", source)
        layers: list[dict[str, Any]] = [apply_path_rules(source, self.path_rules)]
        folder: dict[str, Any] = {}
        for path in folder_meta_paths(file_path, root):
            folder.update(self._read(path, source))
        sidecar: dict[str, Any] = {}
        for path in sidecar_paths(file_path):
            sidecar.update(self._read(path, source))
        layers += [folder, front, sidecar]
        converter_meta = {k: plain(v) for k, v in doc.meta.items() if k not in SYSTEM_FIELDS}
        meta: dict[str, Any] = dict(converter_meta)
        for layer in layers:
            meta.update(layer)
        named = file_path
        attachment = doc.meta.get("attachment")
        if attachment:  # a mail's attachment: a document of its own, named inside its mail ("mail.eml/devis.pdf")
            named = Path(str(attachment))
            source = f"{source}/{attachment}"
        meta.update(
            file_path=str(file_path),
            source=source,
            file_type=named.suffix.lower().lstrip("."),
            file_hash=file_hash(file_path),
        )
        if not meta.get("title") or (attachment and meta.get("title") == meta.get("mail_subject")):
            heading = _FIRST_HEADING.search(body)
            title = heading.group(1) if heading else file_title(named)
            if title:
                meta["title"] = title
        if "reference" in meta:
            meta["reference"] = _as_bool(meta["reference"])
        meta["has_key_metadata"] = bool(meta.get("tags")) or any(meta.get(f) for f in self.key_fields)
        return replace(doc, content=body, meta=meta, id="")

    @staticmethod
    def _front_matter(text: str, source: str) -> tuple[dict[str, Any], str]:
        if not text.lstrip("\ufeff").startswith("---"):
            return {}, text
        try:
            post = frontmatter.loads(text.lstrip("\ufeff"), handler=_FrontMatterYAML())
            return {str(k): plain(v) for k, v in post.metadata.items()}, post.content.strip()
        except Exception as e:  # a broken front matter must not lose the document
            logger.warning("Unreadable front matter in {source}: {error}", source=source, error=e)
            return {}, text

    @staticmethod
    def _read(path: Path, source: str) -> dict[str, Any]:
        try:
            return read_metadata_file(path)
        except (OSError, ValueError, yaml.YAMLError) as e:
            logger.warning("Metadata file {path} ignored for {source}: {error}", path=path, source=source, error=e)
            return {}


def file_hash(file_path: Path) -> str:
    """SHA-256 of a file's bytes, "" when it cannot be read."""
    try:
        return hashlib.sha256(file_path.read_bytes()).hexdigest()
    except OSError:
        return ""
