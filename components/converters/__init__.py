from components.converters.csv_table_to_document import CSVTableToDocument
from components.converters.heading_docx_to_document import HeadingDOCXToDocument
from components.converters.isolated_converter import IsolatedConverter

__all__ = ["CSVTableToDocument", "HeadingDOCXToDocument", "IsolatedConverter"]
