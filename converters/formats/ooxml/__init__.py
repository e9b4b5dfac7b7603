"""The OOXML (Word, Excel, PowerPoint) rebuild: see converters.formats.ooxml.rebuild for the flow."""

from converters.formats.ooxml.package import MAX_XML_PART_BYTES, parse_xml, serialise
from converters.formats.ooxml.rebuild import MAIN_TYPES, OUTPUT_MIMES, OoxmlConverter

__all__ = ["MAIN_TYPES", "MAX_XML_PART_BYTES", "OUTPUT_MIMES", "OoxmlConverter", "parse_xml", "serialise"]
