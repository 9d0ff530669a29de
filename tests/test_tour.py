"""sigmoid tour --quick: the report's content, not only that a file appeared."""
import os
from html.parser import HTMLParser

import pytest

pytest.importorskip("matplotlib", reason='the tour draws with matplotlib: pip install "sigmoid[plot]"')

from sigmoid import tour  # noqa: E402
from sigmoid.cli import main  # noqa: E402


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.imgs, self.sections, self.rows, self.text = [], [], [], 0, []
        self.errors = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.imgs.append(a)
        elif tag == "section":
            self.sections.append(a.get("id"))
        elif tag == "tr":
            self.rows += 1
        if tag not in ("img", "meta", "br", "link"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("tour")
    path, sections = tour.run(str(out), quick=True, verbose=False)
    with open(path, encoding="utf-8") as f:
        page = f.read()
    p = _Collect()
    p.feed(page)
    p.close()
    return out, page, p, sections


def test_every_section_is_in_the_report_with_its_figures(report):
    out, page, p, sections = report
    assert p.errors == [] and p.stack == []
    assert p.sections == list(tour.SECTIONS)
    assert len(p.imgs) == sum(len(s.figures) for s in sections) >= len(sections)
    for img in p.imgs:
        assert img["src"].startswith("data:image/png;base64,") and len(img["src"]) > 5000
        assert len(img.get("alt", "")) > 30
    for s in sections:
        for f in s.figures:
            png = out / f"{f.name}.png"
            assert png.stat().st_size > 5000
            with open(png, "rb") as fh:
                assert fh.read(8) == b"\x89PNG\r\n\x1a\n"


def test_every_claim_is_measured_and_holds(report):
    out, page, p, sections = report
    claims = [c for s in sections for c in s.claims]
    assert p.rows == len(claims) + 1        # the summary table and its header
    for s in sections:
        assert s.claims, s.key
        for c in s.claims:
            assert any(ch.isdigit() for ch in c.measured), (s.key, c.text)
            assert c.measured in " ".join(p.text) or c.measured.replace("'", "&#x27;") in page
            assert c.held, f"{s.key}: {c.text}: {c.measured}"


def test_the_numbers_are_the_known_ones(report):
    sections = {s.key: s for s in report[3]}
    text = " ".join(c.text + " " + c.measured for c in sections["range"].claims)
    assert "17.32868" in text and "-103.97208" in text and "37.42994775" in text and "-745.13321910" in text
    assert "max 0.25 at x = 0" in text


def test_command_line(tmp_path, capsys):
    assert main(["tour", "--quick", "--no-progress", "--sections", "relations,history", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "claims held; report:" in out and os.path.exists(tmp_path / "index.html")
    assert main(["tour", "--quick", "--sections", "nonsense", "--out", str(tmp_path)]) == 2
    assert "unknown section(s) ['nonsense']" in capsys.readouterr().err
