"""The HTML report: one self-contained file with the summary, the attribution and a gallery of flipped
images, opened in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fixtures.models import write_linear_classifier
from parity.cli import app

BROWSER = next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome") if shutil.which(name)), None)


@pytest.fixture(scope="module")
def html_report(tmp_path_factory: pytest.TempPathFactory, image_dir: Path) -> tuple[Path, int]:
    folder = tmp_path_factory.mktemp("html")
    model = write_linear_classifier(folder / "tiny18.onnx", opset=18)
    out = folder / "report.html"
    result = CliRunner().invoke(app, ["explain", str(model), "-d", "bgr-swap", "--data", str(image_dir), "--html", str(out),
                                      "--json", str(folder / "explain.json"), "--no-progress", "--no-cache"])
    assert result.exit_code == 0, result.output
    import json

    flips = sum(1 for o in json.loads((folder / "explain.json").read_text())["report"]["candidates"][0]["disagreements"]
                if o["status"] == "flipped")
    return out, flips


def test_the_file_is_self_contained(html_report: tuple[Path, int]) -> None:
    text = html_report[0].read_text()
    assert 'id="summary"' in text and 'id="attribution"' in text and 'id="gallery"' in text
    sources = re.findall(r'src="([^"]*)"', text)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "http://" not in text and "https://" not in text and "<link" not in text and "<script" not in text


@pytest.mark.skipif(BROWSER is None, reason="no headless Chromium here (Debian: apt-get install chromium)")
def test_headless_chromium_loads_it_and_finds_the_gallery(html_report: tuple[Path, int], tmp_path: Path) -> None:
    path, flips = html_report
    assert flips > 0
    command = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files"]
    dom = subprocess.run([*command, "--dump-dom", path.as_uri()], capture_output=True, text=True, timeout=120).stdout
    assert '<div id="gallery" class="gallery">' in dom
    assert dom.count('<figure class="flip">') == min(flips, 24)
    assert dom.count('alt="candidate input"') == min(flips, 24)
    screenshot = tmp_path / "report.png"
    subprocess.run([*command, f"--screenshot={screenshot}", "--window-size=1280,1600", path.as_uri()], capture_output=True, timeout=120)
    assert screenshot.is_file() and screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_check_writes_html_too(tmp_path: Path, image_dir: Path, tiny_model: Path) -> None:
    out = tmp_path / "check.html"
    result = CliRunner().invoke(app, ["check", str(tiny_model), "-d", "bgr-swap", "--data", str(image_dir), "--html", str(out), "--no-progress"])
    assert result.exit_code in (0, 1), result.output
    assert "HTML report written to" in result.output and 'id="gallery"' in out.read_text()


def test_the_html_says_which_inferences_were_skipped(tmp_path: Path, image_dir: Path, tiny_model: Path) -> None:
    out = tmp_path / "check.html"
    result = CliRunner().invoke(app, ["check", str(tiny_model), "-d", "opencv-decode", "--data", str(image_dir), "--html", str(out),
                                      "--no-cache", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert ("<p>Inference: 12 inferences run; 12 skipped because the model input was bit-identical to one already run on "
            "the same runtime.</p>") in out.read_text()
