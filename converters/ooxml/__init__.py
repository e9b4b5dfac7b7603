"""The OOXML (Word, Excel, PowerPoint) rebuild: see converters.ooxml.rebuild for the flow."""

from converters.ooxml.package import MAX_XML_PART_BYTES, parse_xml, serialise
from converters.ooxml.rebuild import MAIN_TYPES, OUTPUT_MIMES, OoxmlConverter

__all__ = ["MAIN_TYPES", "MAX_XML_PART_BYTES", "OUTPUT_MIMES", "OoxmlConverter", "parse_xml", "serialise"]
