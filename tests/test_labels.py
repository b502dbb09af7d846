"""QR labels: every printed QR scans back to its checkpoint's URL, the PDF carries its own
Chinese font, a reissued label's old QR says it was replaced, and labels stay within a site."""

from __future__ import annotations

import io
import re
import shutil
import subprocess

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import select

from server.extensions import db
from server.models import Checkpoint

from .support.api import error_of
from .support.pdf import DPI, render_pages



def decoded_urls(pages: list[Image.Image]) -> list[str]:
    return [r.text for page in pages for r in zxingcpp.read_barcodes(page, formats=zxingcpp.BarcodeFormat.QRCode)]


def active_checkpoints(site_id: int) -> list[Checkpoint]:
    stmt = select(Checkpoint).where(Checkpoint.site_id == site_id, Checkpoint.active.is_(True)).order_by(Checkpoint.position)
    return db.session.execute(stmt).scalars().all()


def test_every_qr_on_the_label_sheet_decodes_to_its_checkpoint_url(app, as_role, demo, tmp_path):
    app.config["PUBLIC_URL"] = "https://patrol.example.com/"
    resp = as_role("manager").get(f"/api/sites/{demo.id}/labels.pdf")
    assert resp.status_code == 200
    assert resp.mimetype == "application/pdf"
    pages = render_pages(resp.data, tmp_path)
    expected = sorted(f"https://patrol.example.com/c/{cp.token}" for cp in active_checkpoints(demo.id))
    assert len(pages) == -(-len(expected) // 8)  # eight labels a page
    assert sorted(decoded_urls(pages)) == expected


def test_label_qr_is_at_least_45_mm_wide_on_a4(as_role, demo, tmp_path):
    resp = as_role("manager").get(f"/api/sites/{demo.id}/labels.pdf")
    page = render_pages(resp.data, tmp_path)[0]
    assert page.size[0] == pytest.approx(210 / 25.4 * DPI, abs=2)  # A4 portrait
    for result in zxingcpp.read_barcodes(page, formats=zxingcpp.BarcodeFormat.QRCode):
        pos = result.position
        width_mm = (pos.top_right.x - pos.top_left.x) / DPI * 25.4
        assert width_mm >= 45


def test_label_pdf_embeds_its_chinese_font(as_role, demo):
    pdf = as_role("manager").get(f"/api/sites/{demo.id}/labels.pdf").data
    base_fonts = re.findall(rb"/BaseFont\s*/([^\s/>]+)", pdf)
    assert base_fonts, "no font in the PDF"
    # Every font is an embedded subset (ABCDEF+Name) of WenQuanYi Micro Hei, the font that
    # comes with the install: nothing depends on the reader's fonts.
    for name in base_fonts:
        assert re.match(rb"^[A-Z]{6}\+WenQuanYiMicroHei", name), name
    assert pdf.count(b"/FontFile2") == len(set(base_fonts))


def test_label_sheet_has_chinese_and_english_names_kind_and_short_code(as_role, demo, tmp_path):
    """pdftotext reads back what a person sees on the label."""
    assert shutil.which("pdftotext"), "pdftotext is missing: apt-get install poppler-utils"
    lobby = next(cp for cp in active_checkpoints(demo.id) if cp.short_code == "LOBBY")
    pdf = as_role("manager").get(f"/api/sites/{demo.id}/labels.pdf?checkpoint_ids={lobby.id}").data
    src = tmp_path / "one.pdf"
    src.write_bytes(pdf)
    text = subprocess.run(["pdftotext", str(src), "-"], check=True, capture_output=True).stdout.decode()
    for expected in ("一楼大堂", "Ground-floor lobby", "大堂", "Lobby", "LOBBY", "演示大厦"):
        assert expected in text


def test_label_sheet_prints_only_the_chosen_checkpoints_in_the_given_order(as_role, demo, tmp_path):
    cps = active_checkpoints(demo.id)
    chosen = [cps[3], cps[0]]
    resp = as_role("supervisor").get(f"/api/sites/{demo.id}/labels.pdf?checkpoint_ids={chosen[0].id},{chosen[1].id}")
    assert resp.status_code == 200
    urls = decoded_urls(render_pages(resp.data, tmp_path))
    assert sorted(urls) == sorted(f"http://localhost/c/{cp.token}" for cp in chosen)


def test_deactivated_checkpoints_are_left_off_the_default_sheet(as_role, demo, tmp_path):
    manager = as_role("manager")
    gone = active_checkpoints(demo.id)[0]
    assert manager.patch(f"/api/checkpoints/{gone.id}", json={"active": False}).status_code == 200
    urls = decoded_urls(render_pages(manager.get(f"/api/sites/{demo.id}/labels.pdf").data, tmp_path))
    assert f"http://localhost/c/{gone.token}" not in urls
    assert len(urls) == len(active_checkpoints(demo.id))


def test_reissued_label_old_qr_says_replaced_and_new_sheet_carries_new_token(as_role, demo, tmp_path):
    manager = as_role("manager")
    cp = active_checkpoints(demo.id)[0]
    old_token = cp.token
    resp = manager.post(f"/api/checkpoints/{cp.id}/reissue")
    assert resp.status_code == 200
    new_token = resp.get_json()["token"]
    assert new_token != old_token
    old = as_role("patroller").get(f"/api/checkpoints/resolve?token={old_token}")
    err = error_of(old)
    assert old.status_code == 410 and err["code"] == "label_replaced"
    assert "replaced" in err["message"]
    urls = decoded_urls(render_pages(manager.get(f"/api/sites/{demo.id}/labels.pdf?checkpoint_ids={cp.id}").data, tmp_path))
    assert urls == [f"http://localhost/c/{new_token}"]


def test_qr_png_decodes_to_the_checkpoint_url(as_role, demo):
    cp = active_checkpoints(demo.id)[0]
    resp = as_role("manager").get(f"/api/checkpoints/{cp.id}/qr.png")
    assert resp.status_code == 200 and resp.mimetype == "image/png"
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(resp.data)))
    assert [r.text for r in results] == [f"http://localhost/c/{cp.token}"]


def test_qr_svg_is_a_vector_image_of_the_same_code(as_role, demo):
    cp = active_checkpoints(demo.id)[0]
    resp = as_role("admin").get(f"/api/checkpoints/{cp.id}/qr.svg")
    assert resp.status_code == 200 and resp.mimetype == "image/svg+xml"
    import xml.etree.ElementTree as ET

    root = ET.fromstring(resp.data)
    assert root.tag.endswith("svg")
    assert any(el.tag.endswith("path") for el in root.iter())


def test_patroller_cannot_print_labels(as_role, demo):
    patroller = as_role("patroller")
    cp = active_checkpoints(demo.id)[0]
    assert patroller.get(f"/api/sites/{demo.id}/labels.pdf").status_code == 403
    assert patroller.get(f"/api/checkpoints/{cp.id}/qr.png").status_code == 403


def test_labels_of_another_site_are_not_found(as_role, demo, other_site):
    stranger = as_role("other-manager")
    cp = active_checkpoints(demo.id)[0]
    for url in (f"/api/sites/{demo.id}/labels.pdf", f"/api/checkpoints/{cp.id}/qr.png", f"/api/checkpoints/{cp.id}/qr.svg"):
        resp = stranger.get(url)
        assert resp.status_code == 404, url
        assert error_of(resp)["code"] == "not_found"


def test_label_sheet_refuses_checkpoints_of_another_site(as_role, demo, other_site):
    foreign = active_checkpoints(other_site.id)[0]
    resp = as_role("manager").get(f"/api/sites/{demo.id}/labels.pdf?checkpoint_ids={foreign.id}")
    assert resp.status_code == 422
    assert str(foreign.id) in error_of(resp)["message"]


@pytest.mark.parametrize("raw", ["abc", "1,x", "-1", "1;2"])
def test_label_sheet_rejects_malformed_id_lists(as_role, demo, raw):
    resp = as_role("manager").get(f"/api/sites/{demo.id}/labels.pdf?checkpoint_ids={raw}")
    assert resp.status_code == 422
    error_of(resp)




# --- layout: what must stay on a label, inside its cut line ----------------------------

MM = 72 / 25.4
XHTML = "{http://www.w3.org/1999/xhtml}"

# Long names as sites really have them, each with a 16-character code (the longest the API takes).
REAL = [
    ("car_park", "B2层东北角消防水泵房", "Fire pump room, north-east corner of B2", "B座", "B2", "", "ABCD1234EFGH5678"),
    ("floor", "3号楼1单元（东侧）地下室高低压配电间及弱电井，含消防控制室。", "High- and low-voltage switch room and weak-current shaft, basement, Building 3 Unit 1 (east side), with the fire control room", "3号楼", "B1", "1单元", "MMMMMMMMMMMMMMMM"),
    ("floor", "二十八楼东侧男女卫生间、清洁间、茶水间及设备间（含新风机组）", "Toilets, cleaners' room, pantry and plant room, 28/F east (with fresh-air unit)", "C座", "28", "", "WWWWWWWWWWWWWWWW"),
    ("vacant_unit", "空置房 10楼03室（待租，钥匙在物业中心）", "Vacant unit 10-03 (to let; keys at the management office)", "国际金融中心二期北塔裙楼商业综合体东区配套设施楼", "10", "1003", "U1003WXYZ0000000"),
    ("elevator_car", "5号客梯轿厢（东区高区，停靠28～45层）", "Passenger lift car 5 (east high zone, floors 28-45)", "A座", "", "", "EL05EASTHIGHZONE"),
    ("outdoor_plaza", "南广场地下车库出入口及雨水篦子、排水沟", "South plaza: car-park entrance, gully gratings and drains", "", "1", "", "PLAZASOUTH000001"),
    ("lobby", "一楼大堂", "Ground-floor lobby", "A座", "1", "", "LOBBY0123456789X"),
    ("car_park", "地下二层（B2）充电桩区域，含配电箱", "EV charging bays, B2, with the distribution board", "B座", "B2", "", "PB2EVCHARGING016"),
]


def create_checkpoints(client, site_id: int, rows) -> list[dict]:
    out = []
    for kind, name_zh, name_en, building, floor, unit, code in rows:
        body = {"site_id": site_id, "kind": kind, "name_zh": name_zh, "name_en": name_en, "building": building, "floor": floor, "unit": unit, "short_code": code}
        resp = client.post("/api/checkpoints/", json=body)
        assert resp.status_code == 201, resp.get_json()
        out.append(resp.get_json())
    return out


def label_sheet(client, site_id: int, cps: list[dict]) -> bytes:
    resp = client.get(f"/api/sites/{site_id}/labels.pdf?checkpoint_ids={','.join(str(cp['id']) for cp in cps)}")
    assert resp.status_code == 200
    return resp.data


def label_lines(pdf: bytes, tmp_path) -> dict[int, list[dict]]:
    """The lines of text printed on each label (poppler's pdftotext -bbox-layout), top to bottom,
    keyed by the label's place on the sheet, with their boxes in points from the page's top left."""
    import xml.etree.ElementTree as ET

    from server.labels import CELL_H, CELL_W, COLUMNS, MARGIN_X, MARGIN_Y, ROWS

    src = tmp_path / "layout.pdf"
    src.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-bbox-layout", str(src), "-"], check=True, capture_output=True).stdout
    labels: dict[int, list[dict]] = {}
    for p, page in enumerate(ET.fromstring(out).iter(f"{XHTML}page")):
        for line in page.iter(f"{XHTML}line"):
            box = {k: float(line.get(k)) for k in ("xMin", "yMin", "xMax", "yMax")}
            col = int(((box["xMin"] + box["xMax"]) / 2 / MM - MARGIN_X) // CELL_W)
            row = int(((box["yMin"] + box["yMax"]) / 2 / MM - MARGIN_Y) // CELL_H)
            text = " ".join(w.text for w in line.iter(f"{XHTML}word"))
            labels.setdefault(p * COLUMNS * ROWS + row * COLUMNS + col, []).append({"text": text, "col": col, "row": row, **box})
    return {i: sorted(lines, key=lambda ln: ln["yMin"]) for i, lines in labels.items()}


def printed_code(lines: list[dict]) -> str:
    """The short code as printed: the lines between the prompt and the site line, spaces dropped."""
    texts = [ln["text"] for ln in lines]
    start = texts.index("Scan, or type the code:") + 1
    return "".join(texts[start:-1]).replace(" ", "")


def zbar_urls(pdf: bytes, tmp_path) -> list[str]:
    """The second, independent decoder: zbarimg (Debian zbar-tools) on the rendered pages."""
    assert shutil.which("zbarimg"), "zbarimg is missing: apt-get install zbar-tools"
    out = []
    for i, page in enumerate(render_pages(pdf, tmp_path)):
        png = tmp_path / f"zbar-{i}.png"
        page.save(png)
        done = subprocess.run(["zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", str(png)], capture_output=True, text=True)
        assert done.returncode in (0, 4), done.stderr  # 4: no symbol found on the page
        out += done.stdout.split()
    return out


def assert_inside_the_cut_line(lines: list[dict]) -> None:
    """Every line right of the QR and inside the label's cut line, none printed over another."""
    from server.labels import CELL_H, CELL_W, MARGIN_X, MARGIN_Y, PAD, QR_MM

    col, row = lines[0]["col"], lines[0]["row"]
    left, top = (MARGIN_X + col * CELL_W) * MM, (MARGIN_Y + row * CELL_H) * MM
    text_left, right, bottom = left + (PAD + QR_MM) * MM, left + CELL_W * MM, top + CELL_H * MM
    for ln in lines:
        # 2 mm inside the cut line: nothing is cut off when the labels are cut apart.
        assert text_left <= ln["xMin"] and ln["xMax"] <= right - 2 * MM, ln
        assert top <= ln["yMin"] and ln["yMax"] <= bottom, ln
    for upper, lower in zip(lines, lines[1:]):
        assert upper["yMax"] <= lower["yMin"] + 0.5, (upper, lower)


@pytest.mark.parametrize("code", ["PB2F", "ABCD1234EFGH5678", "WWWWWWWWWWWWWWWW"])
def test_car_park_label_with_a_long_name_keeps_its_building_and_floor_line(as_role, demo, tmp_path, code):
    """The car-park kind's own name is long too (停车库、停车场、自行车棚、摩托车场), and the
    widest 16-character code is all W."""
    manager = as_role("manager")
    [cp] = create_checkpoints(manager, demo.id, [REAL[0][:-1] + (code,)])
    pdf = label_sheet(manager, demo.id, [cp])
    lines = label_lines(pdf, tmp_path)[0]
    texts = [ln["text"] for ln in lines]
    assert "B座 B2" in texts  # what tells this pump room from A座's
    assert "B2层东北角消防水泵房" in "".join(texts)
    assert printed_code(lines) == code
    assert_inside_the_cut_line(lines)
    url = f"http://localhost/c/{cp['token']}"
    assert decoded_urls(render_pages(pdf, tmp_path)) == [url]
    assert zbar_urls(pdf, tmp_path) == [url]


def test_long_names_and_16_character_codes_stay_inside_the_cut_line_and_scan(as_role, demo, tmp_path):
    manager = as_role("manager")
    cps = create_checkpoints(manager, demo.id, REAL)
    pdf = label_sheet(manager, demo.id, cps)
    by_label = label_lines(pdf, tmp_path)
    assert sorted(by_label) == list(range(len(REAL)))
    for i, lines in by_label.items():
        kind, name_zh, name_en, building, floor, unit, code = REAL[i]
        assert_inside_the_cut_line(lines)
        assert printed_code(lines) == code
        texts = [ln["text"] for ln in lines]
        floor_text = f"{floor}F" if floor.isdigit() else floor
        tail = " ".join(p for p in (floor_text, unit) if p)
        assert any(t.endswith(tail) for t in texts), (tail, texts)  # the floor and unit are never cut
        if len(building) <= 10:
            assert " ".join(p for p in (building, tail) if p) in texts
    expected = sorted(f"http://localhost/c/{cp['token']}" for cp in cps)
    assert sorted(decoded_urls(render_pages(pdf, tmp_path))) == expected
    assert sorted(zbar_urls(pdf, tmp_path)) == expected


def test_a_building_name_too_long_for_the_label_is_shortened_never_the_floor_and_unit(as_role, demo, tmp_path):
    manager = as_role("manager")
    building = "国际金融中心二期北塔裙楼商业综合体东区配套设施楼甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉戌亥"
    [cp] = create_checkpoints(manager, demo.id, [("vacant_unit", "空置房", "Vacant unit", building, "10", "1003", "LONGBUILDING")])
    texts = [ln["text"] for ln in label_lines(label_sheet(manager, demo.id, [cp]), tmp_path)[0]]
    where = [t for t in texts if t.startswith("国际金融中心")]
    assert where, texts
    joined = "".join(texts[texts.index(where[0]) :])
    assert "…" in joined and "10F 1003" in joined


def test_chinese_line_breaking_on_the_printed_label(as_role, demo, tmp_path):
    """No closing punctuation starts a printed line and no opening punctuation ends one."""
    from server.labels import CLOSING, OPENING

    manager = as_role("manager")
    rows = [
        ("floor", "高低压配电间，弱电井及消防控制室。", "Switch room, shaft and fire control room.", "A座", "1", "", "PUNCT1"),
        ("elevator_car", "1号电梯轿厢（客梯）", "Elevator car 1 (passenger)", "A座", "", "", "PUNCT2"),
        ("floor", "消防水泵房（东）》配电间《备用》", "", "A座", "2", "", "PUNCT3"),
    ] + [(k, zh, en, b, f, u, c) for k, zh, en, b, f, u, c in REAL[1:6]]
    cps = create_checkpoints(manager, demo.id, rows)
    printed = [ln["text"] for lines in label_lines(label_sheet(manager, demo.id, cps), tmp_path).values() for ln in lines]
    for text in printed:
        assert text[0] not in CLOSING and text[-1] not in OPENING, text


CJK_SAMPLES = [
    "高低压配电间，弱电井及消防控制室。",
    "3号楼1单元（东侧）地下室高低压配电间及弱电井，含消防控制室。",
    "“消防通道”严禁堆放杂物！请勿占用。",
    "《消防法》第二十八条：任何单位、个人不得损坏、挪用消防设施。",
    "Fire pump room (B2), north-east corner; 3.5 m from the door.",
    "B2层东北角消防水泵房（地下二层）",
]


@pytest.mark.parametrize("text", CJK_SAMPLES)
def test_wrapping_keeps_every_character_and_the_chinese_line_breaking_rules(app, text):
    from server.fonts import font_setting, register_font
    from server.labels import CLOSING, OPENING, _width, _wrap

    font = register_font(font_setting(app.config))
    for size in (7, 10, 15):
        for ems in range(3, 14):
            width = ems * size
            lines = _wrap(text, font, size, width)
            assert "".join(lines).replace(" ", "") == text.replace(" ", ""), (size, ems, lines)
            for line in lines:
                assert line[0] not in CLOSING and line[-1] not in OPENING, (size, ems, lines)
                assert _width(line, font, size) <= width or " " not in line.strip(), (size, ems, lines)
