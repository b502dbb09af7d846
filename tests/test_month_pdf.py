"""The filed month record, record.pdf: PDF/A-2b structure, embedded fonts, page numbers, figures that agree, whole numbers.

Checked with tools the project did not write: pikepdf (qpdf) for structure and metadata,
poppler's pdffonts for embedding and pdftotext for what a reader sees.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import timedelta

import pikepdf
import pytest
from sqlalchemy import select

from server import archive
from server.extensions import db
from server.models import Task

from .support.records import SEPT, add_finding, add_visit, september, zip_manifest
from .support.tasks import user

pytestmark = pytest.mark.skipif(not shutil.which("pdffonts"), reason="poppler-utils (pdffonts, pdftotext) is not installed")


@pytest.fixture
def sealed_pdf(app, demo, tmp_path):
    """September sealed with enough records for several pages; its verification was done in December."""
    recs = september(demo)
    for n in range(70):
        v = add_visit(demo, ("F01", "F02", "EL1")[n % 3], SEPT + timedelta(hours=5 * n), results=("ok", "fail"))
        if n % 7 == 0:
            add_finding(demo, v, description=f"第{n}号 楼梯间照明损坏，已报修等待配件", severity="major" if n == 14 else "normal")
    archive.seal(demo, "2026-09", actor_id=user("archivist").id)
    db.session.commit()
    data = open(archive.file_for(demo.id, "2026-09", None)["path"], "rb").read()
    manifest, zf, prefix = zip_manifest(data)
    path = tmp_path / "record.pdf"
    path.write_bytes(zf.read(prefix + "record.pdf"))
    return path, manifest, recs


def pdftotext(path, *args) -> str:
    run = subprocess.run(["pdftotext", *args, str(path), "-"], check=True, capture_output=True, text=True)
    assert "Error" not in run.stderr, run.stderr
    return run.stdout


def test_month_pdf_is_pdf_a_2b_with_xmp_and_an_srgb_output_intent(sealed_pdf):
    path, _manifest, _recs = sealed_pdf
    with pikepdf.open(path) as pdf:
        [intent] = pdf.Root.OutputIntents
        assert intent.S == "/GTS_PDFA1" and intent.OutputConditionIdentifier == "sRGB IEC61966-2.1"
        icc = intent.DestOutputProfile
        assert icc.N == 3 and icc.read_bytes()[36:40] == b"acsp"  # an ICC profile's signature
        assert icc.read_bytes()[16:20] == b"RGB "
        meta = pdf.open_metadata()
        assert meta["pdfaid:part"] == "2" and meta["pdfaid:conformance"] == "B"
        assert meta["dc:title"] == str(pdf.docinfo["/Title"]) and "巡查记录月报" in meta["dc:title"]
        assert "/Metadata" in pdf.Root and pdf.Root.Metadata.Subtype == "/XML"
        assert pdf.trailer.get("/ID") is not None and not pdf.is_encrypted
    if shutil.which("qpdf"):
        check = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True)
        assert check.returncode == 0 and "No syntax or stream encoding errors" in check.stdout, check.stdout + check.stderr


def test_every_font_in_the_month_pdf_is_embedded_and_none_is_base_14(sealed_pdf):
    path, _manifest, _recs = sealed_pdf
    run = subprocess.run(["pdffonts", str(path)], check=True, capture_output=True, text=True)
    out = run.stdout
    assert "Error" not in run.stderr, run.stderr  # e.g. "Unknown font tag": a font named but not defined
    rows = out.splitlines()[2:]
    assert rows, out
    for row in rows:
        assert re.search(r"\byes\s+(yes|no)\s+(yes|no)\s+\d+\s+\d+\s*$", row), row  # the "emb" column says yes
    assert not re.search(r"Helvetica|Times|Courier|Symbol|ZapfDingbats", out), out


def test_every_page_says_page_n_of_m(sealed_pdf):
    path, _manifest, _recs = sealed_pdf
    pages = pdftotext(path).split("\f")[:-1]
    assert len(pages) >= 3
    for n, text in enumerate(pages, start=1):
        assert f"第{n}页 共{len(pages)}页" in text, (n, text[-200:])


def test_page_one_figures_agree_with_the_sections(sealed_pdf):
    path, manifest, _recs = sealed_pdf
    s = manifest["summary"]
    # The repair was verified in December: no verifying scan in September, one verification listed in 六.
    assert s["verifications"] == 1 and s["verify_visits"] == 0
    first = pdftotext(path, "-layout", "-f", "1", "-l", "1")
    assert re.search(r"完工核查（见第六节）\s+1\b", first), first
    assert re.search(rf"巡查记录（见第七节）\s+{s['visits'] + s['verify_visits']}\b", first), first
    text = pdftotext(path, "-raw")
    six = text[text.index("六、完工核查与签名"):text.index("七、巡查记录明细")]
    assert len(re.findall(r"#\d+", six)) == s["verifications"]


def test_no_date_or_time_is_broken_inside_a_number(sealed_pdf):
    path, _manifest, _recs = sealed_pdf
    text = pdftotext(path, "-raw")
    five = text[text.index("五、问题及处理记录"):text.index("六、完工核查与签名")]
    assert "期限" in five and "关闭" in five
    rest = re.sub(r"\d{4}-\d{2}-\d{2}|\d{2}:\d{2}", "", five)
    assert not re.search(r"\d-|-\d|\d:|:\d", rest), re.findall(r".{0,12}(?:\d-|-\d|\d:|:\d).{0,12}", rest)


def test_manifest_times_are_site_local_iso_8601_with_the_offset(sealed_pdf):
    _path, manifest, _recs = sealed_pdf
    local = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$")
    assert manifest["timezone"] == "Asia/Shanghai"
    assert local.match(manifest["sealed_at"]) and local.match(manifest["built_at"])
    majors = manifest["summary"]["major_issues"]
    assert len(majors) == 2 and all(local.match(m["observed_at"]) for m in majors), majors


def test_month_pdf_pages_render(sealed_pdf, tmp_path):
    """Every page renders with poppler (what people will look at), and its pages are A4."""
    path, _manifest, _recs = sealed_pdf
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(path), str(tmp_path / "page")], check=True, capture_output=True)
    with pikepdf.open(path) as pdf:
        assert len(list(tmp_path.glob("page-*.png"))) == len(pdf.pages)
        assert all([round(float(x)) for x in p.mediabox] == [0, 0, 595, 842] for p in pdf.pages)


def test_record_pdf_downloads_on_its_own_as_filed_in_the_bundle(app, demo, as_role, sealed_pdf):
    path, _manifest, _recs = sealed_pdf
    url = f"/api/archive/sites/{demo.id}/months/2026-09/record.pdf"
    r = as_role("archivist").get(url)
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert 'filename="DEMO-2026-09.pdf"' in r.headers["Content-Disposition"]
    assert r.get_data() == path.read_bytes()
    assert as_role("patroller").get(url).status_code == 403
    r = as_role("archivist").get(f"/api/archive/sites/{demo.id}/months/2026-08/record.pdf")
    assert r.status_code == 404
