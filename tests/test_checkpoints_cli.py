"""`flask checkpoints import|export|labels`: set up and print a building from a terminal."""

from __future__ import annotations

import zxingcpp
from sqlalchemy import select

from server.extensions import db
from server.models import Checkpoint

from .support.pdf import render_pages


def test_cli_export_then_import_round_trips(runner, demo, tmp_path):
    out = tmp_path / "demo.csv"
    result = runner.invoke(args=["checkpoints", "export", "--site", "DEMO", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith("\ufeff".encode())
    result = runner.invoke(args=["checkpoints", "import", "--site", "DEMO", str(out)])
    assert result.exit_code == 0, result.output
    assert "created 0, updated 0" in result.output


def test_cli_import_with_bad_rows_names_each_line_and_saves_nothing(runner, demo, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("kind,name_zh,short_code\nfloor,11楼,F11\nroof,天台,R1\nfloor,,F12\n", encoding="utf-8")
    result = runner.invoke(args=["checkpoints", "import", "--site", "DEMO", str(bad)])
    assert result.exit_code != 0
    assert "line 3: kind" in result.output and "line 4: name_zh" in result.output
    assert db.session.execute(select(Checkpoint).where(Checkpoint.short_code == "F11")).first() is None


def test_cli_labels_writes_a_pdf_whose_qrs_point_at_the_base_url(runner, demo, tmp_path):
    out = tmp_path / "labels.pdf"
    result = runner.invoke(args=["checkpoints", "labels", "--site", "DEMO", "--base-url", "https://p.example.com", str(out)])
    assert result.exit_code == 0, result.output
    page = render_pages(out.read_bytes(), tmp_path)[0]
    texts = [r.text for r in zxingcpp.read_barcodes(page)]
    assert len(texts) == 8 and all(t.startswith("https://p.example.com/c/") for t in texts)


def test_cli_labels_needs_a_base_url_and_a_known_site(runner, demo, tmp_path):
    result = runner.invoke(args=["checkpoints", "labels", "--site", "DEMO", str(tmp_path / "x.pdf")])
    assert result.exit_code != 0 and "PUBLIC_URL" in result.output
    result = runner.invoke(args=["checkpoints", "labels", "--site", "NOPE", "--base-url", "https://x", str(tmp_path / "x.pdf")])
    assert result.exit_code != 0 and "no site" in result.output
