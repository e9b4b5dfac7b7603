"""The allowlist the PDF rebuild writes out: for each kind of object a page needs to be drawn,
the keys ISO 32000-2 defines for it and the kind of each key's value.

A key not listed here is not written, whatever it holds. ``DATA`` values are numbers, names,
strings, booleans, null and arrays of them - never a dictionary or a stream, so nothing can hide
behind them. A name whose value decides what an object does (a group's /S, a soft mask's /S)
is itself allowlisted (``Names``). Objects that choose their shape by a tag (/Subtype,
/FunctionType, /ShadingType ...) are ``Tagged``: an unknown tag drops the object. Colour
spaces are arrays whose shape depends on their first name (``COLOR_SPACE``, read by the copier).
Document-level objects (catalog, pages, outlines, annotations, actions, destinations) are built
by ``pdf_document`` and ``pdf_annotations`` with the tables in ``pdf_document_schema``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Union

from converters.formats.pdf_calculator import calculator_program
from converters.formats.pdf_content import content_program
from converters.formats.pdf_fonts import Writer, embed_font_program

DATA = "data"
COLOR_SPACE = "color space"


@dataclass(frozen=True)
class Names:
    """A name from a fixed set."""
    allowed: frozenset[str]


@dataclass(frozen=True)
class Shape:
    """A dictionary (``stream`` False), a stream (True) or either (None) with these keys."""
    label: str
    keys: Mapping[str, Kind]
    stream: bool | None = False
    required: frozenset[str] = frozenset()
    # the /Type values written (any other is left out: a font typed /Action is written as a font)
    types: frozenset[str] = frozenset()
    # a stream whose data is a program: its decoded data written anew by this function (None: not kept)
    program: Callable[[bytes], bytes | None] | None = None
    # completes what was written from the listed keys: (the input's object, the one written, the copier)
    finish: Callable[[object, object, Writer], None] | None = None


@dataclass(frozen=True)
class Tagged:
    """One of several shapes, chosen by the value of ``key`` (a name, or an integer written as
    text); an unknown or missing tag drops the object. ``visible``: dropping it changes what a
    page shows, so it is a finding."""
    label: str
    key: str
    shapes: Mapping[str, Kind]
    visible: bool = True


@dataclass(frozen=True)
class Each:
    """A dictionary whose every value is of ``kind`` (the names a resource dictionary gives)."""
    kind: Kind


@dataclass(frozen=True)
class ArrayOf:
    kind: Kind


@dataclass(frozen=True)
class Either:
    """A value that may be plain data, a dictionary, a stream or an array, each of its own kind."""
    dictionary: Kind | None = None
    stream: Kind | None = None
    array: Kind | None = None
    scalar: bool = False


Kind = Union[str, Names, Shape, Tagged, Each, ArrayOf, Either]  # noqa: UP007 - a forward reference


def shape(label: str, stream: bool | None = False, required: tuple[str, ...] = (), types: tuple[str, ...] = (),
          data: tuple[str, ...] = (), program: Callable[[bytes], bytes | None] | None = None,
          finish: Callable[[object, object, Writer], None] | None = None, **kinds: Kind) -> Shape:
    keys: dict[str, Kind] = {f"/{key}": DATA for key in data}
    keys.update({f"/{key}": kind for key, kind in kinds.items()})
    return Shape(label, keys, stream, frozenset(f"/{key}" for key in required), frozenset(f"/{t}" for t in types),
                 program, finish)


def names(*allowed: str) -> Names:
    return Names(frozenset(f"/{name}" for name in allowed))


# ISO 32000-2 7.4 (the standard filters; Crypt is not one a written file may use: it is not encrypted)
FILTERS = frozenset({"/ASCIIHexDecode", "/ASCII85Decode", "/LZWDecode", "/FlateDecode", "/RunLengthDecode",
                     "/CCITTFaxDecode", "/JBIG2Decode", "/DCTDecode", "/JPXDecode"})
PLAIN_STREAM = shape("stream", stream=True)  # a stream that is data and nothing else (ToUnicode, an ICC profile ...)
# what a page, a form, a glyph or a tiling pattern draws: written anew from its operators (pdf_content)
CONTENT = shape("content stream", stream=True, program=content_program)
# of a stream kept as it came, which is never under an image codec (pdf_copy): no /JBIG2Globals (a picture's
# shared segments are read from the input by pdf_images)
DECODE_PARMS = shape("decode parameters", data=(
    "Predictor", "Colors", "BitsPerComponent", "Columns", "EarlyChange", "K", "EndOfLine", "EncodedByteAlign",
    "Rows", "EndOfBlock", "BlackIs1", "DamagedRowsBeforeError", "ColorTransform"))

# 7.10 functions: sampled (a stream), exponential, stitching, PostScript calculator (a stream, its program
# written anew from its tokens)
_FUNCTIONS: dict[str, Kind] = {}
FUNCTION = Tagged("function", "/FunctionType", _FUNCTIONS)
_COMMON = ("FunctionType", "Domain", "Range")
_FUNCTIONS.update({
    "0": shape("sampled function", stream=True, data=(*_COMMON, "Size", "BitsPerSample", "Order", "Encode", "Decode")),
    "2": shape("exponential function", data=(*_COMMON, "C0", "C1", "N")),
    "3": shape("stitching function", data=(*_COMMON, "Bounds", "Encode"), Functions=ArrayOf(FUNCTION)),
    "4": shape("calculator function", stream=True, data=_COMMON, program=calculator_program)})  # see pdf_calculator
FUNCTION_OR_NAME = Either(dictionary=FUNCTION, stream=FUNCTION, array=ArrayOf(FUNCTION), scalar=True)

# 8.6 colour spaces (arrays, see pdf_copy) and their parameter dictionaries
CIE_PARAMS = shape("CIE colour space", data=("WhitePoint", "BlackPoint", "Gamma", "Matrix", "Range"))
ICC_PROFILE = shape("ICC profile", stream=True, data=("N", "Range"), Alternate=COLOR_SPACE)
DEVICEN_ATTRIBUTES = shape("DeviceN attributes", data=("Subtype",), Colorants=Each(COLOR_SPACE),
                           Process=shape("DeviceN process", data=("Components",), ColorSpace=COLOR_SPACE))

# 9 fonts: the font program (/FontFile, /FontFile2, /FontFile3) is not copied but written anew by pdf_fonts
_DESCRIPTOR = ("Type", "FontName", "Flags", "FontBBox", "ItalicAngle", "Ascent", "Descent", "Leading", "CapHeight",
               "XHeight", "StemV", "StemH", "AvgWidth", "MaxWidth", "MissingWidth")
FONT_DESCRIPTOR = shape(
    "font descriptor", types=("FontDescriptor",),
    data=(*_DESCRIPTOR, "FontFamily", "FontStretch", "FontWeight", "CharSet", "Lang"),
    CIDSet=PLAIN_STREAM, Style=shape("font style", data=("Panose",)),
    FD=Each(shape("font descriptor override", types=("FontDescriptor",), data=_DESCRIPTOR)),
    finish=embed_font_program)
CID_SYSTEM_INFO = shape("CID system info", data=("Registry", "Ordering", "Supplement"))
_CMAP = ("Type", "CMapName", "WMode")
CMAP = shape("CMap", stream=True, types=("CMap",), data=_CMAP, CIDSystemInfo=CID_SYSTEM_INFO,
             UseCMap=Either(stream=shape("CMap", stream=True, types=("CMap",), data=_CMAP,
                                         CIDSystemInfo=CID_SYSTEM_INFO),
                            scalar=True))
ENCODING = Either(dictionary=shape("encoding", types=("Encoding",), data=("Type", "BaseEncoding", "Differences")),
                  stream=CMAP, scalar=True)
_SIMPLE_FONT = ("Type", "Subtype", "Name", "BaseFont", "FirstChar", "LastChar", "Widths")
CID_FONT = Tagged("CID font", "/Subtype", {
    subtype: shape("CID font", types=("Font",), data=("Type", "Subtype", "BaseFont", "DW", "W", "DW2", "W2"),
                   CIDSystemInfo=CID_SYSTEM_INFO, FontDescriptor=FONT_DESCRIPTOR,
                   CIDToGIDMap=Either(stream=PLAIN_STREAM, scalar=True))
    for subtype in ("/CIDFontType0", "/CIDFontType2")})

# 8.11 optional content: the groups and membership dictionaries a page or an XObject may name
OPTIONAL_CONTENT_GROUP = shape("optional content group", types=("OCG",), data=("Type", "Name", "Intent"))
OPTIONAL_CONTENT = Tagged("optional content", "/Type", {
    "/OCG": OPTIONAL_CONTENT_GROUP,
    "/OCMD": shape("optional content membership", types=("OCMD",), data=("Type", "P", "VE"),
                   OCGs=Either(dictionary=OPTIONAL_CONTENT_GROUP, array=ArrayOf(OPTIONAL_CONTENT_GROUP)))},
    visible=False)

# 11.6.6 transparency groups; 8.9 images (a soft mask or a stencil mask is an image too)
GROUP = shape("group", types=("Group",), data=("Type", "I", "K"), S=names("Transparency"), CS=COLOR_SPACE)
_IMAGE = ("Type", "Width", "Height", "BitsPerComponent", "Intent", "ImageMask", "Decode", "Interpolate",
          "SMaskInData", "Name", "Matte")
# a /Subtype is written only when it says what the place holds: a soft mask's group or a mask image reached
# directly (not through a resource dictionary's tag) may say /PS, which no reader draws and the inspector refuses
MASK_IMAGE = shape("image", stream=True, types=("XObject",), required=("Width", "Height"), data=_IMAGE,
                   Subtype=names("Image"), ColorSpace=COLOR_SPACE)
IMAGE = shape("image", stream=True, types=("XObject",), required=("Width", "Height"), data=_IMAGE,
              Subtype=names("Image"), ColorSpace=COLOR_SPACE, OC=OPTIONAL_CONTENT, SMask=MASK_IMAGE,
              Mask=Either(stream=MASK_IMAGE, array=DATA))

# 7.8.3 resources and the objects that carry their own: form XObjects (8.10), tiling patterns (8.7.3),
# Type 3 fonts (9.6.4), soft masks (11.6.5.2, a form) - they contain each other, so the mappings
# are filled in once all exist
_RESOURCES: dict[str, Kind] = {}
RESOURCES = Shape("resources", _RESOURCES)
FORM_XOBJECT = shape("form XObject", stream=True, types=("XObject",), required=("BBox",),
                     data=("Type", "FormType", "BBox", "Matrix", "Name"), program=content_program,
                     Subtype=names("Form"), Group=GROUP, OC=OPTIONAL_CONTENT, Resources=RESOURCES)
XOBJECT = Tagged("XObject", "/Subtype", {"/Image": IMAGE, "/Form": FORM_XOBJECT})
SOFT_MASK = shape("soft mask", types=("Mask",), data=("Type", "BC"), S=names("Alpha", "Luminosity"),
                  G=FORM_XOBJECT, TR=FUNCTION_OR_NAME)
EXT_G_STATE = shape("graphics state", types=("ExtGState",), data=(
    "Type", "LW", "LC", "LJ", "ML", "D", "RI", "OP", "op", "OPM", "FL", "SM", "SA", "BM", "CA", "ca", "AIS", "TK",
    "UseBlackPtComp"), TR=FUNCTION_OR_NAME, TR2=FUNCTION_OR_NAME, BG=FUNCTION, BG2=FUNCTION_OR_NAME,
    UCR=FUNCTION, UCR2=FUNCTION_OR_NAME, SMask=Either(dictionary=SOFT_MASK, scalar=True))
_SHADING = ("ShadingType", "Background", "BBox", "AntiAlias", "Coords", "Domain", "Extend", "Matrix")
_MESH = ("BitsPerCoordinate", "BitsPerComponent", "BitsPerFlag", "Decode", "VerticesPerRow")
SHADING = Tagged("shading", "/ShadingType", {
    **{str(n): shape("shading", data=_SHADING, ColorSpace=COLOR_SPACE, Function=FUNCTION_OR_NAME) for n in (1, 2, 3)},
    **{str(n): shape("mesh shading", stream=True, data=(*_SHADING, *_MESH), ColorSpace=COLOR_SPACE,
                     Function=FUNCTION_OR_NAME) for n in (4, 5, 6, 7)}})
PATTERN = Tagged("pattern", "/PatternType", {
    "1": shape("tiling pattern", stream=True, required=("BBox",), types=("Pattern",), data=(
        "Type", "PatternType", "PaintType", "TilingType", "BBox", "XStep", "YStep", "Matrix"),
        program=content_program, Resources=RESOURCES),
    "2": shape("shading pattern", types=("Pattern",), data=("Type", "PatternType", "Matrix"), Shading=SHADING,
               ExtGState=EXT_G_STATE)})
FONT = Tagged("font", "/Subtype", {
    "/Type0": shape("composite font", types=("Font",), data=("Type", "Subtype", "BaseFont"), Encoding=ENCODING,
                    DescendantFonts=ArrayOf(CID_FONT), ToUnicode=PLAIN_STREAM),
    **{f"/{subtype}": shape("font", types=("Font",), data=_SIMPLE_FONT, FontDescriptor=FONT_DESCRIPTOR,
                            Encoding=ENCODING, ToUnicode=PLAIN_STREAM) for subtype in ("Type1", "MMType1", "TrueType")},
    "/Type3": shape("Type 3 font", types=("Font",), data=(*_SIMPLE_FONT, "FontBBox", "FontMatrix"),
                    Encoding=ENCODING,
                    ToUnicode=PLAIN_STREAM, CharProcs=Each(CONTENT), Resources=RESOURCES,
                    FontDescriptor=FONT_DESCRIPTOR)})
_RESOURCES.update({
    "/Font": Each(FONT), "/XObject": Each(XOBJECT), "/ExtGState": Each(EXT_G_STATE), "/ColorSpace": Each(COLOR_SPACE),
    "/Pattern": Each(PATTERN), "/Shading": Each(SHADING), "/Properties": Each(OPTIONAL_CONTENT), "/ProcSet": DATA})

# the colour space families (8.6) and what follows the family name in the array
COLOR_SPACE_FAMILIES = frozenset({
    "/DeviceGray", "/DeviceRGB", "/DeviceCMYK", "/Pattern", "/CalGray", "/CalRGB", "/Lab", "/ICCBased", "/Indexed",
    "/Separation", "/DeviceN"})
