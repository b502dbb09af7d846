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

from .helpers import error_of

DPI = 150


def render_pages(pdf: bytes, tmp_path) -> list[Image.Image]:
    """Rasterise every page with poppler's pdftoppm (Debian poppler-utils)."""
    assert shutil.which("pdftoppm"), "pdftoppm is missing: apt-get install poppler-utils"
    src = tmp_path / "labels.pdf"
    src.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", str(DPI), str(src), str(tmp_path / "page")], check=True)
    return [Image.open(p) for p in sorted(tmp_path.glob("page-*.png"))]


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



