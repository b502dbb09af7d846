"""The printable month record, record.pdf: the figures, charts, major issues, findings, verifications with signatures, and visits.

reportlab platypus with the embedded Chinese TrueType font (labels.py registers it), so the
filed record reads the same on any machine; charts with reportlab.graphics. The rows are the
export rows (exports.ROWS), read through the connection the bundle is written with.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

from flask import current_app
from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Image, PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy import select

from .. import choices
from ..exports import ROWS, connection, local_formatter, shown_time
from ..fonts import font_setting, register_font
from ..models import Finding, Task, Verification
from . import pdfa
from .bundle import ADDENDUM, Job, photo_file
from .summary import DEALT_ON_SPOT

# The Chinese a filed record prints for each code.
CATEGORY_ZH = {
    "security_hazard": "治安隐患",
    "facilities": "公共设施设备",
    "cleanliness": "清洁卫生",
    "landscaping": "园林绿化",
    "renovation_violation": "装修违章",
}
ROUTE_ZH = {choices.ROUTE_FACILITY_REPAIR: "报修", choices.ROUTE_DEPARTMENT_WORK: "部门整改", choices.ROUTE_RESIDENT_VIOLATION: "住户违规"}
KIND_ZH = {
    "floor": "楼层",
    "elevator_car": "电梯轿厢",
    "lobby": "大堂门厅走廊",
    "outdoor_plaza": "外围广场",
    "car_park": "停车场",
    "vacant_unit": "空置房",
}
TASK_STATE_ZH = {
    choices.TASK_OPEN: "待分派", choices.TASK_ASSIGNED: "已分派", choices.TASK_IN_PROGRESS: "处理中", choices.TASK_DONE: "待核查",
    choices.TASK_VERIFIED: "已核查关闭", choices.TASK_CANCELLED: "已取消",
}
SCAN_ZH = {choices.SCAN_QR: "扫码", choices.SCAN_CODE: "编码", choices.SCAN_URL: "链接"}
MONTH_STATE_ZH = {choices.MONTH_OPEN: "未封存", choices.MONTH_SEALED: "已封存", choices.MONTH_ARCHIVED: "已归档", choices.MONTH_PURGED: "已清除"}

CHART_COLOURS = ("#c0392b", "#2e86c1", "#27ae60", "#d68910", "#7d3c98")


def _font() -> str:
    return register_font(font_setting(current_app.config))


def _styles(font: str) -> dict:
    base = ParagraphStyle("base", fontName=font, fontSize=9, leading=12, wordWrap="CJK")
    return {
        "title": ParagraphStyle("title", parent=base, fontSize=17, leading=22, spaceAfter=4),
        "h2": ParagraphStyle("h2", parent=base, fontSize=12.5, leading=16, spaceBefore=8, spaceAfter=4, keepWithNext=1),
        "body": base,
        "h3": ParagraphStyle("h3", parent=base, fontSize=10, leading=13, spaceBefore=6, spaceAfter=3, keepWithNext=1),
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=9.5),
        "note": ParagraphStyle("note", parent=base, fontSize=8, leading=10, textColor="#555555"),
        # Dates and times: lines break at spaces only, never inside a number.
        "nums": ParagraphStyle("nums", parent=base, fontSize=7.5, leading=9.5, wordWrap=None),
    }


def _p(text, style):
    return Paragraph(escape(str(text if text is not None else "")).replace("\n", "<br/>"), style)


def _table(data, widths, font: str, header_rows: int = 1, size: float = 8):
    t = Table(data, colWidths=widths, repeatRows=header_rows, hAlign="LEFT")
    t.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), font),
        ("FONTSIZE", (0, 0), (-1, -1), size),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#999999")),
        ("BACKGROUND", (0, 0), (-1, header_rows - 1), colors.HexColor("#e8eef4")),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]))
    return t


def _tables(rows, widths, font: str, size: float = 8, per_table: int = 60) -> list:
    """A long list as several tables of `per_table` rows, each with the header row.

    reportlab splits one long table page by page by re-measuring what is left, which
    grows with the square of its length; a month's thousands of visits in one table
    took minutes, in blocks it is linear.
    """
    head, body = rows[0], rows[1:]
    return [_table([head] + body[i : i + per_table], widths, font, size=size) for i in range(0, len(body), per_table)]


def _weekly_chart(fig: dict, font: str, width: float):
    weeks = fig["findings_by_week"]
    cats = [c for c in choices.CATEGORIES if c in weeks]
    d = Drawing(width, 170, initialFontName=font)  # not the default Times-Roman (base-14, not embedded)
    d.add(String(0, 158, "每周发现问题（按类别）", fontName=font, fontSize=10))
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 30, 25, width - 170, 120
    chart.data = [weeks[c] for c in cats] or [[0] * 5]
    chart.categoryAxis.categoryNames = ["1-7日", "8-14日", "15-21日", "22-28日", "29日起"]
    chart.categoryAxis.labels.fontName = font
    chart.categoryAxis.labels.fontSize = 7.5
    chart.valueAxis.labels.fontName = font
    chart.valueAxis.labels.fontSize = 7.5
    chart.valueAxis.valueMin = 0
    top = max([sum(col) for col in zip(*chart.data)] + [1])
    chart.valueAxis.valueMax = top + max(1, top // 5)
    chart.valueAxis.valueStep = max(1, (top + 4) // 5)
    chart.categoryAxis.style = "stacked"
    for i, _ in enumerate(cats):
        chart.bars[i].fillColor = colors.HexColor(CHART_COLOURS[i % len(CHART_COLOURS)])
        chart.bars[i].strokeColor = None
    d.add(chart)
    legend = Legend()
    legend.x, legend.y = width - 130, 140
    legend.fontName = font
    legend.fontSize = 8
    legend.alignment = "right"
    legend.colorNamePairs = [(colors.HexColor(CHART_COLOURS[i % len(CHART_COLOURS)]), CATEGORY_ZH.get(c, c)) for i, c in enumerate(cats)]
    d.add(legend)
    return d


def _coverage_chart(fig: dict, font: str, width: float):
    floors = fig["coverage"]["by_floor"][:40]
    height = 40 + 13 * max(len(floors), 1)
    d = Drawing(width, height + 20, initialFontName=font)
    cov = fig["coverage"]
    basis = "按巡查计划，已巡 / 应巡" if cov.get("basis") == "plans" else "本月至少巡查一次的点位"
    d.add(String(0, height + 8, f"各楼层覆盖率（{basis}）：全站 {cov['percent']}%", fontName=font, fontSize=10))
    chart = HorizontalBarChart()
    chart.x, chart.y, chart.width, chart.height = 80, 20, width - 120, height - 30
    chart.data = [[f["percent"] for f in reversed(floors)] or [0]]
    chart.categoryAxis.categoryNames = [f["area"] for f in reversed(floors)] or ["—"]
    chart.categoryAxis.labels.fontName = font
    chart.categoryAxis.labels.fontSize = 7.5
    chart.valueAxis.valueMin, chart.valueAxis.valueMax, chart.valueAxis.valueStep = 0, 100, 20
    chart.valueAxis.labels.fontName = font
    chart.valueAxis.labels.fontSize = 7.5
    chart.bars[0].fillColor = colors.HexColor("#2e86c1")
    chart.bars[0].strokeColor = None
    chart.barLabelFormat = "%.0f%%"
    chart.barLabels.fontName = font
    chart.barLabels.fontSize = 6.5
    chart.barLabels.boxAnchor = "w"
    chart.barLabels.dx = 2
    d.add(chart)
    return d


def _signature_images(site, finding_where, scratch=None, width_mm: float = 28):
    """{verification id: [(role, Image flowable)]} for the drawn signatures that were received."""
    out: dict[str, list] = {}
    stmt = (
        select(Verification.id, Verification.signatures)
        .join(Task, Task.id == Verification.task_id)
        .join(Finding, Finding.id == Task.finding_id)
        .where(Task.site_id == site.id, finding_where(Finding))
    )
    for vid, sigs in connection().execute(stmt):
        for role, photo_id in sorted((sigs or {}).items()):
            path = photo_file(str(photo_id), scratch)
            if path is None:
                continue
            img = Image(str(path))
            # Fit into a signature box, keeping the drawing's proportions.
            scale = min(width_mm * mm / max(img.imageWidth, 1), 14 * mm / max(img.imageHeight, 1))
            img.drawWidth, img.drawHeight = img.imageWidth * scale, img.imageHeight * scale
            out.setdefault(vid, []).append((role, img))
    return out


def render(path: Path, job: Job) -> None:
    """Lay out the job's record.pdf at `path`: sections 一-七 for the bundle, 五-七 for an addendum."""
    site, month = job.site, job.month
    font = _font()
    st = _styles(font)
    year, mon = month.split("-")
    title = f"{site.name_zh} 巡查记录月报 {year}年{int(mon)}月" + (f" · 补录 第{job.number}号" if job.kind == ADDENDUM else "")
    doc = SimpleDocTemplate(str(path), pagesize=A4, leftMargin=14 * mm, rightMargin=14 * mm, topMargin=14 * mm, bottomMargin=16 * mm,
                            title=title, author="Patrol", subject=f"{site.code} {month}", lang="zh-CN",
                            initialFontName=font)  # not Helvetica, a base-14 font that is never embedded
    width = A4[0] - 28 * mm - 12  # the frame's own padding is 6 pt a side
    tz = site.timezone
    when = _when(tz)
    footer_text = f"{site.code} {month} · 封存于 {when(job.sealed_at)} · 生成于 {when(job.built_at)}"

    story = [_p(title, st["title"]),
             _p(f"项目 {site.code}（{site.name_en or site.name_zh}） · 时区 {tz} · 状态 {MONTH_STATE_ZH[choices.MONTH_ARCHIVED]}", st["note"])]
    if job.kind == ADDENDUM:
        story.append(_p(f"本补录收录 {when(job.since)} 之后才到达服务器的本月记录（离线手机迟到的同步、本月问题的后续处理）。"
                        "已封存的月报文件保持不变。", st["body"]))
    else:
        story += _summary_story(job.summary, when, font, st, width)
    story += _records_story(job, font, st, width)
    doc.build(story, canvasmaker=_numbered_canvas(font, footer_text))
    pdfa.make_pdfa(path, title=title, subject=f"{site.code} {month}")


def _numbered_canvas(font: str, footer_text: str):
    """A canvas class that writes each page's footer with "第N页 共M页" once the page count is known.

    Its initial font is the embedded Chinese one: reportlab's default (Helvetica, a base-14
    font that is never embedded) would otherwise be selected on every page, which PDF/A forbids.
    """

    class NumberedCanvas(Canvas):
        def __init__(self, *args, **kwargs):
            kwargs["initialFontName"] = font
            super().__init__(*args, **kwargs)
            self._pages = []

        def showPage(self):
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self.saveState()
                self.setFont(font, 7.5)
                self.drawString(14 * mm, 9 * mm, footer_text)
                self.drawRightString(A4[0] - 14 * mm, 9 * mm, f"第{self._pageNumber}页 共{total}页")
                self.restoreState()
                super().showPage()
            super().save()

    return NumberedCanvas


def _clip(text, width: int) -> str:
    """Cut text to about `width` CJK characters (a Latin letter counts half)."""
    text = str(text or "")
    out, used = [], 0.0
    for ch in text:
        used += 0.5 if ord(ch) < 0x2E80 else 1
        if used > width:
            return "".join(out) + "…"
        out.append(ch)
    return text


def _when(tz: str):
    """Naive UTC → 'YYYY-MM-DD HH:MM' site-local, as the export rows write it; "—" for none."""
    fmt = local_formatter(tz)
    return lambda dt: fmt(dt) or "—"


def _summary_story(fig: dict, when, font: str, st: dict, width: float) -> list:
    med = fig["median_days_to_fix"]
    kv = [
        ["巡查次数", fig["visits"], "本月核查扫码", fig["verify_visits"]],
        ["完工核查（见第六节）", fig["verifications"], "巡查记录（见第七节）", fig["visits"] + fig["verify_visits"]],
        ["检查项目", fig["items_checked"], "合格 / 不合格 / 不适用",
         f"{fig['items_by_result']['ok']} / {fig['items_by_result']['fail']} / {fig['items_by_result']['na']}"],
        ["发现问题", fig["findings"], "现场处理", fig["dealt_on_spot"]],
        ["开出任务", fig["tasks_opened"], "已关闭 / 未关闭", f"{fig['tasks_closed']} / {fig['tasks_open']}"],
        ["逾期任务", fig["tasks_overdue"], "修复天数中位数", "—" if med is None else f"{med} 天"],
        ["延期申请", fig["extensions_asked"], "延期批准", fig["extensions_approved"]],
        ["重大问题", len(fig["major_issues"]), "点位覆盖率", f"{fig['coverage']['percent']}%"],
    ]
    q = width / 4
    story = [_p("一、本月概况", st["h2"]), _table([["项目", "数量", "项目", "数量"]] + kv, [q * 1.1, q * 0.9, q * 1.2, q * 0.8], font, size=9)]
    cat_rows = [["类别", "问题数"]] + [[CATEGORY_ZH.get(c, c), n] for c, n in fig["findings_by_category"].items()]
    route_rows = [["处理途径", "问题数"]] + [[ROUTE_ZH.get(r, r), n] for r, n in fig["findings_by_route"].items()]
    kind_rows = [["点位类型", "巡查次数"]] + [[KIND_ZH.get(k, k), n] for k, n in fig["visits_by_kind"].items()]
    third = (width - 12) / 3
    side = Table([[_table(cat_rows, [third * 0.65, third * 0.35], font), _table(route_rows, [third * 0.65, third * 0.35], font),
                   _table(kind_rows, [third * 0.65, third * 0.35], font)]], colWidths=[third + 4] * 3)
    side.setStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)])
    story += [_p("二、问题分类与巡查分布", st["h2"]), side, Spacer(1, 6)]
    area_rows = [["区域（楼栋 楼层）", "巡查次数"]] + [[a, n] for a, n in fig["visits_by_area"].items()]
    if len(area_rows) > 1:
        story.append(_table(area_rows, [width * 0.4, width * 0.15], font))
    story += [_p("三、图表", st["h2"]), _weekly_chart(fig, font, width), Spacer(1, 8), _coverage_chart(fig, font, width)]
    story.append(_p("四、重大问题", st["h2"]))
    if fig["major_issues"]:
        rows = [["发现时间", "点位", "类别", "描述", "处理状态"]]
        for m in fig["major_issues"]:
            rows.append([m["observed_at"][:16].replace("T", " "), _p(m["checkpoint"], st["small"]),
                         CATEGORY_ZH.get(m["category"], m["category"]), _p(m["description"], st["small"]),
                         "现场处理" if m["task_state"] == DEALT_ON_SPOT else TASK_STATE_ZH.get(m["task_state"], m["task_state"])])
        story.append(_table(rows, [width * 0.17, width * 0.18, width * 0.13, width * 0.37, width * 0.15], font))
    else:
        story.append(_p("本月无重大问题。", st["body"]))
    if "complaints" in fig:
        story += _complaints_story(fig["complaints"], font, st, width)
    return story


# Complaint words for the record (the table's Chinese labels, kept beside the others here).
COMPLAINT_ZH = {
    "visit": "来人", "letter": "来函", "phone": "来电", "other": "其它",
    "ordinary": "普通", "transferred": "转部门", "special": "特殊/紧急",
    "valid": "有效", "invalid": "无效", "unjudged": "未判定",
    "met": "按时处理", "missed": "超时", "pending": "处理中",
    "satisfied": "满意", "average": "一般", "not_satisfied": "不满意", "none": "未填",
}


def _complaint_chart(title: str, counts: dict, font: str, width: float):
    """One small horizontal bar chart of a classification."""
    names = list(counts) or ["—"]
    height = 30 + 14 * len(names)
    d = Drawing(width, height + 16)
    d.add(String(0, height + 4, title, fontName=font, fontSize=9))
    chart = HorizontalBarChart()
    chart.x, chart.y, chart.width, chart.height = 62, 12, width - 80, height - 16
    chart.data = [[counts[n] for n in names] if counts else [0]]
    chart.categoryAxis.categoryNames = [COMPLAINT_ZH.get(n, CATEGORY_ZH.get(n, n)) for n in names]
    chart.categoryAxis.labels.fontName = font
    chart.categoryAxis.labels.fontSize = 7.5
    top = max(list(counts.values()) + [1])
    chart.valueAxis.valueMin, chart.valueAxis.valueMax, chart.valueAxis.valueStep = 0, top + 1, max(1, (top + 4) // 5)
    chart.valueAxis.labels.fontName = font
    chart.valueAxis.labels.fontSize = 7
    chart.bars[0].fillColor = colors.HexColor("#c0392b")
    chart.bars[0].strokeColor = None
    d.add(chart)
    return d


def _complaints_story(cf: dict, font: str, st: dict, width: float) -> list:
    """附：业主投诉分类统计 — counts by channel, kind, validity, deadline and satisfaction, with charts, and complaints beside findings per place."""
    story = [_p("附、业主投诉分类统计", st["h2"]),
             _p(f"本月受理投诉 {cf['total']} 件；\u201c巡查合格却被投诉\u201d信号 {cf['patrolled_as_fine']} 件。", st["body"]), Spacer(1, 4)]
    if not cf["total"]:
        # Six empty charts and a table of zeros say nothing the sentence above does not.
        return story
    half = (width - 12) / 2
    charts = [
        ("按投诉方式", cf["by_channel"]), ("按投诉性质", cf["by_kind"]), ("按有效性", cf["by_validity"]),
        ("按处理时限", cf["by_deadline"]), ("回访满意度", cf["by_satisfaction"]), ("按问题类别", cf["by_category"]),
    ]
    cells = [_complaint_chart(t, c, font, half) for t, c in charts]
    grid = Table([cells[i : i + 2] for i in range(0, len(cells), 2)], colWidths=[half + 6] * 2)
    grid.setStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)])
    story.append(grid)
    if cf["by_checkpoint"]:
        rows = [["点位", "投诉", "巡查发现问题"]] + [[_p(r["name_zh"], st["small"]), r["complaints"], r["findings"]] for r in cf["by_checkpoint"]]
        story += [_p("按点位：投诉与巡查发现问题", st["h3"]), _table(rows, [width * 0.4, width * 0.15, width * 0.2], font)]
    return story


def _records_story(job: Job, font: str, st: dict, width: float) -> list:
    site = job.site
    sm, nums = st["small"], st["nums"]
    story = [PageBreak(), _p("五、问题及处理记录", st["h2"])]
    rows = [["发现时间", "点位", "类别 / 途径", "描述", "现场处理", "任务", "期限 / 关闭"]]
    for r in ROWS["findings"](site, job.finding_where):
        sev = "【重大】" if r[9] == choices.SEVERITY_MAJOR else ""
        rows.append([
            _p(shown_time(r[2]), nums), _p(f"{r[4]}\n{r[3]}", sm), _p(f"{CATEGORY_ZH.get(r[7], r[7])}\n{ROUTE_ZH.get(r[8], r[8])}", sm),
            _p(sev + (r[10] or ""), sm), _p(("是 " + r[12]) if r[11] else "否", sm),
            _p(f"#{r[14]} {TASK_STATE_ZH.get(r[15], r[15])}" if r[14] else "—", sm),
            _p("\n".join(x for x in (f"期限 {shown_time(r[16])}" if r[16] else "", f"关闭 {shown_time(r[17])}" if r[17] else "") if x) or "—", nums),
        ])
    if len(rows) == 1:
        story.append(_p("无。", st["body"]))
    else:
        story.extend(_tables(rows, [width * w for w in (0.13, 0.15, 0.11, 0.27, 0.11, 0.09, 0.14)], font))
    story.append(_p("六、完工核查与签名", st["h2"]))
    sigs = _signature_images(site, job.finding_where, job.scratch)
    rows = [["核查时间", "任务", "结果", "核查人", "维修人", "备注", "签名"]]
    for r in ROWS["verifications"](site, job.finding_where):
        images = sigs.get(r[0], [])
        sign_cell = [x for role, img in images for x in (_p({"fixer": "维修人", "verifier": "核查人", "supervisor": "主管"}.get(role, role), sm), img)]
        rows.append([_p(shown_time(r[3]), nums), f"#{r[1]}", "通过" if r[4] == choices.VERIFY_PASS else "不通过", _p(r[5], sm), _p(r[6], sm),
                     _p(r[10], sm), sign_cell or _p("（签名照片未上传）" if r[8] else "—", sm)])
    if len(rows) == 1:
        story.append(_p("无。", st["body"]))
    else:
        story.extend(_tables(rows, [width * w for w in (0.14, 0.07, 0.08, 0.12, 0.12, 0.24, 0.23)], font))
    story += [Spacer(1, 4), PageBreak(), _p("七、巡查记录明细", st["h2"])]
    rows = [["巡查时间", "点位", "类型", "巡查人", "方式", _p("合格/不合格\n/不适用", sm), "备注", "补录"]]
    for r in ROWS["visits"](site, job.visit_where):
        note = " ".join(x for x in (r[14], ("住户：" + r[15]) if r[15] else "") if x)
        # Plain strings where a line is enough: a Paragraph per cell made a busy month's
        # thousands of rows several times slower to lay out. Names are cut to the column.
        rows.append([shown_time(r[2]), _clip(f"{r[4]} {r[3]}", 16), KIND_ZH.get(r[5], r[5]) if r[9] == choices.VISIT_PATROL else "核查", _clip(r[8], 14),
                     SCAN_ZH.get(r[10], r[10]), f"{r[11]}/{r[12]}/{r[13]}", _p(note, sm) if note else "", r[16]])
    if len(rows) == 1:
        story.append(_p("无。", st["body"]))
    else:
        story.extend(_tables(rows, [width * w for w in (0.15, 0.2, 0.1, 0.18, 0.06, 0.12, 0.14, 0.05)], font, size=7))
    return story
