"""Windows metafiles (EMF, WMF) inside Office and OpenDocument files, written anew from an
allowlist of records so that only drawing reaches Word's, Excel's, PowerPoint's or LibreOffice's
GDI/GDI+ renderer: no escapes (SETABORTPROC runs code), no EMF+ (GDI+'s own parser and objects), no
colour profiles or colour spaces (their file names reach out to a share), no OpenGL, no bitmap that
is not a plain, whole DIB. The records of each format are in ``metafile_emf`` and ``metafile_wmf``,
bitmaps in ``metafile_dib``; LibreOffice's own SVM (ODF pictures and object previews), read by vcl
rather than GDI, is written anew the same way in ``metafile_svm``.

A metafile that lost records says which kinds (``Rewritten.removed``); one whose framing does not
hold, or with nothing left to draw once they are gone (an EMF+-only file), cannot be kept, and the
caller gets the reason as text.
"""

from __future__ import annotations

from converters.formats.metafile_emf import rewrite_emf
from converters.formats.metafile_records import Rewritten
from converters.formats.metafile_svm import rewrite_svm
from converters.formats.metafile_wmf import rewrite_wmf

__all__ = ["Rewritten", "rewrite_emf", "rewrite_metafile", "rewrite_svm", "rewrite_wmf"]


def rewrite_metafile(data: bytes, emf: bool, max_pixels: int) -> Rewritten | str:
    """The EMF (``emf``) or WMF written anew, or why it cannot be kept."""
    return rewrite_emf(data, max_pixels) if emf else rewrite_wmf(data, max_pixels)
