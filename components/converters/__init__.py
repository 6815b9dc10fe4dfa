from components.converters.csv_table_to_document import CSVTableToDocument
from components.converters.heading_docx_to_document import HeadingDOCXToDocument
from components.converters.image_to_document import ImageToDocument
from components.converters.isolated_converter import IsolatedConverter
from components.converters.mail_attachment_extractor import MailAttachmentExtractor
from components.converters.mail_to_document import MailToDocument
from components.converters.pdf_to_document import PDFToDocument
from components.converters.slides_to_document import SlidesToDocument
from components.converters.spreadsheet_to_document import SpreadsheetToDocument

__all__ = [
    "CSVTableToDocument",
    "HeadingDOCXToDocument",
    "ImageToDocument",
    "IsolatedConverter",
    "MailAttachmentExtractor",
    "MailToDocument",
    "PDFToDocument",
    "SlidesToDocument",
    "SpreadsheetToDocument",
]
