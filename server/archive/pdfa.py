"""Turning the PDF reportlab wrote into PDF/A-2b: XMP metadata, an sRGB output intent, no font left unembedded.

Filed records are kept two years and China's archival rules ask for long-term formats;
PDF/A-2b is the one for documents. reportlab (open-source edition) writes neither XMP
metadata nor an output intent, so this adds them with pikepdf after the layout: the
metadata is made from the document's Info dictionary (the two must agree), the output
intent carries an sRGB ICC profile made by Pillow's LittleCMS binding. docs/archive.md
lists which PDF/A rules are checked by the tests and which are not.
"""

from __future__ import annotations

import re
from pathlib import Path

import pikepdf
from PIL import ImageCms

# The fonts a PDF reader must have built in; PDF/A forbids naming them without embedding.
BASE14 = {
    "Courier", "Courier-Bold", "Courier-Oblique", "Courier-BoldOblique", "Helvetica", "Helvetica-Bold",
    "Helvetica-Oblique", "Helvetica-BoldOblique", "Times-Roman", "Times-Bold", "Times-Italic", "Times-BoldItalic",
    "Symbol", "ZapfDingbats",
}

_icc: bytes | None = None


def srgb_profile() -> bytes:
    """An sRGB ICC profile (LittleCMS's built-in), made once per process."""
    global _icc
    if _icc is None:
        _icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return _icc


def _resource_dicts(pdf: pikepdf.Pdf):
    """The resource dictionaries of every page and of every form XObject they use."""
    todo = [page.obj.get("/Resources") for page in pdf.pages]
    seen = set()
    while todo:
        res = todo.pop()
        if res is None or res.objgen in seen and res.objgen != (0, 0):
            continue
        seen.add(res.objgen)
        yield res
        for xobj in (res.get("/XObject") or {}).values():
            if xobj.get("/Subtype") == "/Form":
                todo.append(xobj.get("/Resources"))


def _unembedded_fonts(pdf: pikepdf.Pdf) -> list[str]:
    """BaseFont of every font a page can use that carries no font file."""
    out = []
    for res in _resource_dicts(pdf):
        for font in (res.get("/Font") or {}).values():
            if font.get("/Subtype") == "/Type0":
                font = font.DescendantFonts[0]
            desc = font.get("/FontDescriptor")
            if desc is None or not any(k in desc for k in ("/FontFile", "/FontFile2", "/FontFile3")):
                out.append(str(font.get("/BaseFont")))
    return out


def _drop_unused_base14(pdf: pikepdf.Pdf) -> None:
    """Remove base-14 fonts that a page's resources name but its content never selects."""
    for page in pdf.pages:
        fonts = page.obj.get("/Resources", {}).get("/Font")
        if fonts is None:
            continue
        content = page.obj.Contents
        content = b"".join(c.read_bytes() for c in content) if isinstance(content, pikepdf.Array) else content.read_bytes()
        for key in list(fonts.keys()):
            base = str(fonts[key].get("/BaseFont", "")).lstrip("/")
            if base in BASE14 and f"{key} ".encode() not in content:
                del fonts[key]


# A text object that only selects a font and shows nothing: reportlab writes one at each page's
# start and each drawing's start, naming the font by its base name, which a TrueType font
# (used through its subsets /F1+0, /F1+1 …) never has in the page's resources.
EMPTY_TEXT_OBJECT = re.compile(rb"BT /[^\s/\[\]()<>]+ [\d.]+ Tf [\d.]+ TL ET\n?")


def _drop_empty_text_objects(pdf: pikepdf.Pdf) -> None:
    for page in pdf.pages:
        contents = page.obj.Contents
        streams = list(contents) if isinstance(contents, pikepdf.Array) else [contents]
        for stream in streams:
            data = stream.read_bytes()
            cleaned = EMPTY_TEXT_OBJECT.sub(b"", data)
            if cleaned != data:
                stream.write(cleaned)


def make_pdfa(path: Path, *, title: str, subject: str) -> None:
    """Rewrite the PDF at `path` as PDF/A-2b; ValueError when a font in it is not embedded."""
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        _drop_empty_text_objects(pdf)
        _drop_unused_base14(pdf)
        missing = _unembedded_fonts(pdf)
        if missing:
            raise ValueError(f"fonts not embedded, the PDF cannot be PDF/A: {', '.join(missing)}")
        profile = pikepdf.Stream(pdf, srgb_profile())
        profile["/N"] = 3
        profile["/Alternate"] = pikepdf.Name.DeviceRGB
        pdf.Root.OutputIntents = pikepdf.Array([
            pikepdf.Dictionary(
                Type=pikepdf.Name.OutputIntent, S=pikepdf.Name.GTS_PDFA1,
                OutputConditionIdentifier="sRGB IEC61966-2.1", RegistryName="http://www.color.org",
                Info="sRGB IEC61966-2.1", DestOutputProfile=profile,
            )
        ])
        pdf.Root.Lang = pikepdf.String("zh-CN")
        pdf.docinfo["/Title"] = title
        pdf.docinfo["/Subject"] = subject
        if "/Trapped" in pdf.docinfo:  # reportlab writes /Trapped /False; pikepdf has no XMP for it, and it is optional
            del pdf.docinfo["/Trapped"]
        with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
            meta.load_from_docinfo(pdf.docinfo)
            meta["pdfaid:part"] = "2"
            meta["pdfaid:conformance"] = "B"
        pdf.save(path)
