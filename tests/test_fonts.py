"""The Chinese font comes with the install: labels print on a machine with no system CJK
font, LABEL_FONT still overrides it, and a missing or unusable font is a clear 503."""

from __future__ import annotations

import hashlib
import shutil
import subprocess

import pytest

from server import fonts

from .support.api import error_of

# wqy-microhei.ttc of Debian's fonts-wqy-microhei 0.2.0-beta-3.1, the same file the pinned
# PyPI package ships (requirements.txt).
WQY_MICROHEI_SHA256 = "2420e8078af796b19a3f6ef13de527a1a91c1e7171eea115926c614ced1009b3"


def embedded_fonts(pdf: bytes, tmp_path) -> list[dict]:
    """pdffonts (poppler) on the PDF: one dict per font with its name, type and whether it is embedded."""
    assert shutil.which("pdffonts"), "pdffonts is missing: apt-get install poppler-utils"
    src = tmp_path / "fonts.pdf"
    src.write_bytes(pdf)
    out = subprocess.run(["pdffonts", str(src)], check=True, capture_output=True, text=True).stdout.splitlines()
    rows = []
    for line in out[2:]:  # two header lines
        parts = line.split()
        # name type [subtype] encoding emb sub uni object-id generation
        rows.append({"name": parts[0], "type": " ".join(parts[1:-6]), "emb": parts[-5], "sub": parts[-4]})
    return rows


@pytest.fixture
def no_system_font(app, monkeypatch, tmp_path):
    """A machine without any system CJK font: LABEL_FONT unset, the Debian font paths absent."""
    monkeypatch.delenv("LABEL_FONT", raising=False)
    monkeypatch.delenv("LABEL_FONT_INDEX", raising=False)
    app.config["LABEL_FONT"] = ""
    monkeypatch.setattr(fonts, "SYSTEM_FONTS", (str(tmp_path / "no-such-dir" / "wqy-zenhei.ttc"),))


def test_labels_print_with_the_installed_font_when_the_machine_has_no_cjk_font(as_role, demo, no_system_font, tmp_path):
    resp = as_role("manager").get(f"/api/sites/{demo.id}/labels.pdf")
    assert resp.status_code == 200
    rows = embedded_fonts(resp.data, tmp_path)
    assert rows, "no font in the PDF"
    for row in rows:
        assert row["name"].split("+", 1)[1].startswith("WenQuanYiMicroHei"), row
        assert row["type"] == "TrueType" and row["emb"] == "yes" and row["sub"] == "yes", row


def test_the_installed_font_is_wenquanyi_micro_hei_as_debian_ships_it():
    path = fonts.delivered_font()
    assert path is not None, "paperang-p2-fonts-cjk (requirements.txt) is not installed"
    with open(path, "rb") as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == WQY_MICROHEI_SHA256


def test_label_font_setting_overrides_the_installed_font(app, as_role, demo, no_system_font, tmp_path):
    # Face 1 of the collection is the monospaced WenQuanYi Micro Hei Mono: a different font name.
    own = tmp_path / "own-font.ttc"
    shutil.copy(fonts.delivered_font(), own)
    app.config.update(LABEL_FONT=str(own), LABEL_FONT_INDEX=1)
    resp = as_role("manager").get(f"/api/sites/{demo.id}/labels.pdf")
    assert resp.status_code == 200
    rows = embedded_fonts(resp.data, tmp_path)
    assert rows and all(row["name"].split("+", 1)[1].startswith("WenQuanYiMicroHeiMono") for row in rows), rows


def test_a_label_font_setting_naming_a_missing_file_is_a_clear_error(app, as_role, demo):
    app.config["LABEL_FONT"] = "/nonexistent/font.ttc"
    resp = as_role("manager").get(f"/api/sites/{demo.id}/labels.pdf")
    assert resp.status_code == 503
    err = error_of(resp)
    assert err["code"] == "label_font_missing"
    assert "/nonexistent/font.ttc" in err["message"] and "LABEL_FONT" in err["message"]


def test_without_the_font_package_and_without_a_system_font_labels_answer_503(as_role, demo, no_system_font, monkeypatch):
    monkeypatch.setattr(fonts, "DELIVERED_PACKAGE", "no_such_font_package")
    resp = as_role("manager").get(f"/api/sites/{demo.id}/labels.pdf")
    assert resp.status_code == 503
    err = error_of(resp)
    assert err["code"] == "label_font_missing"
    assert "make install" in err["message"] and "LABEL_FONT" in err["message"]


def test_a_file_that_is_not_a_truetype_font_is_refused_clearly(app, as_role, demo, tmp_path):
    fake = tmp_path / "notes.ttf"
    fake.write_text("not a font", encoding="utf-8")
    app.config["LABEL_FONT"] = str(fake)
    resp = as_role("manager").get(f"/api/sites/{demo.id}/labels.pdf")
    assert resp.status_code == 503
    assert error_of(resp)["code"] == "label_font_unusable"


def test_the_installed_font_comes_before_a_system_font(app, monkeypatch, tmp_path):
    """Every install embeds the same font, whatever else the host has."""
    monkeypatch.delenv("LABEL_FONT", raising=False)
    system = tmp_path / "wqy-zenhei.ttc"
    system.write_bytes(b"")
    monkeypatch.setattr(fonts, "SYSTEM_FONTS", (str(system),))
    assert fonts.font_setting({"LABEL_FONT": ""}).path == fonts.delivered_font()
    monkeypatch.setattr(fonts, "DELIVERED_PACKAGE", "no_such_font_package")
    assert fonts.font_setting({"LABEL_FONT": ""}).path == str(system)


def test_cli_labels_with_a_missing_font_says_what_to_do(app, runner, demo, tmp_path):
    app.config["LABEL_FONT"] = "/nonexistent/font.ttc"
    out = tmp_path / "labels.pdf"
    result = runner.invoke(args=["checkpoints", "labels", "--site", "DEMO", "--base-url", "https://p.example.com", str(out)])
    assert result.exit_code == 1
    assert "LABEL_FONT names /nonexistent/font.ttc" in result.output
    assert not out.exists()
