"""The hand-written analysis in BENCHMARKS.md survives a new run's rewrite."""

from pathlib import Path

from bench import report

ANALYSIS = "<!-- analysis -->\n## Analysis\n\nWhy a target is missed.\n<!-- /analysis -->\n"


def test_render_places_the_analysis_and_a_rewrite_finds_it_again(tmp_path: Path) -> None:
    path = tmp_path / "BENCHMARKS.md"
    report.render(path, [], [], analysis=ANALYSIS)
    text = path.read_text()
    assert ANALYSIS in text
    assert text.index("## Summary") < text.index("## Analysis") < text.index("## History")
    match = report.KEPT_TEXT.search(text)
    assert match is not None
    assert match.group(0) == ANALYSIS
