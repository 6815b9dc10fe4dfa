from components.converters.csv_table_to_document import CSVTableToDocument
from components.converters.heading_docx_to_document import HeadingDOCXToDocument

__all__ = ["CSVTableToDocument", "HeadingDOCXToDocument"]
