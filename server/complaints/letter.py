"""The reply letter (回函) as an A4 PDF with the site's heading, in the app's Chinese font.

Everything the resident or the staff typed is set as text (escaped), never as markup.
"""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from ..fonts import FontSetting, register_font
from ..models import Complaint, Site
from ..timeutil import local_date


def letter_pdf(complaint: Complaint, site: Site, font: FontSetting) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import HRFlowable, Paragraph, SimpleDocTemplate, Spacer

    name = register_font(font)
    base = ParagraphStyle("base", fontName=name, fontSize=11, leading=18, wordWrap="CJK")
    head = ParagraphStyle("head", parent=base, fontSize=16, leading=22, alignment=1)
    sub = ParagraphStyle("sub", parent=base, fontSize=9, leading=12, alignment=1, textColor="#555555")
    right = ParagraphStyle("right", parent=base, alignment=2)

    def p(text, style=base):
        return Paragraph(escape(str(text or "")).replace("\n", "<br/>"), style)

    when = local_date(complaint.replied_at or complaint.updated_at, site.timezone)
    story = [
        p(f"{site.name_zh} 客服中心", head),
        p(f"{site.name_en} Customer Service" if site.name_en else "Customer Service", sub),
        Spacer(1, 4 * mm),
        HRFlowable(width="100%", thickness=0.8),
        Spacer(1, 6 * mm),
        p(f"尊敬的{complaint.complainant}{'（' + complaint.unit + '）' if complaint.unit else ''}："),
        Spacer(1, 3 * mm),
        p(f"您于 {local_date(complaint.received_at, site.timezone)} 反映的问题（投诉编号 #{complaint.id}）："),
        p(complaint.content),
        Spacer(1, 3 * mm),
        p(complaint.reply_text),
        Spacer(1, 10 * mm),
        p(f"{site.name_zh} 客服中心", right),
        p(when, right),
    ]
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=22 * mm, rightMargin=22 * mm, topMargin=20 * mm, bottomMargin=20 * mm,
                            title=f"回函 #{complaint.id}", author=site.name_zh)
    doc.build(story)
    return buf.getvalue()
