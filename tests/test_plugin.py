"""The pytest plugin, exercised in throwaway projects with pytester (in subprocesses, as users run it)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]


def test_assert_parity_fails_with_a_readable_summary_and_passes_within_tolerance(
    pytester: pytest.Pytester, tiny_model: Path, image_dir: Path
) -> None:
    pytester.makepyfile(f"""
        import parity

        def test_strict():
            parity.assert_parity("{tiny_model}", deploy="opencv-bilinear", data="{image_dir}", max_flips=0)

        def test_lenient():
            parity.assert_parity("{tiny_model}", deploy="opencv-bilinear", data="{image_dir}", tolerance="100%")
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*AssertionError: parity: 1 of 1 candidate(s) beyond tolerance (reference pil-bilinear)",
        "*opencv-bilinear: * of 12 images disagree*; tolerance: at most 0 flip(s)",
        "*img*: reference * -> candidate *",
    ])


def test_each_configured_candidate_is_its_own_test_case(pytester: pytest.Pytester, tiny_model: Path, image_dir: Path) -> None:
    pytester.makefile(".toml", pyproject=f"""
        [tool.parity]
        model = "{tiny_model}"
        data = "{image_dir}"

        [[tool.parity.candidates]]
        stack = "pil-bilinear"

        [[tool.parity.candidates]]
        stack = "opencv-bilinear"
        max_flips = 0
    """)
    pytester.makepyfile("""
        import parity

        def test_candidate(parity_candidate, parity_model, parity_data):
            parity.assert_parity(parity_model, deploy=parity_candidate, data=parity_data)
    """)
    result = pytester.runpytest_subprocess("-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_candidate?pil-bilinear? PASSED*", "*test_candidate?opencv-bilinear? FAILED*"])


def test_golden_runs_are_written_on_request_and_checked_otherwise(pytester: pytest.Pytester, tiny_model: Path, image_dir: Path) -> None:
    pytester.makefile(".toml", pyproject=f"""
        [tool.parity]
        model = "{tiny_model}"
        data = "{image_dir}"
        max_flips = 0
    """)
    pytester.makepyfile("""
        def test_golden(parity_golden):
            report = parity_golden(stack="opencv-bilinear")
            assert report.candidates[0].metrics.flips == 0
    """)
    missing = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    missing.assert_outcomes(failed=1)
    missing.stdout.fnmatch_lines(["*no golden run at *parity-golden?opencv-bilinear; create it with pytest --parity-update-golden*"])
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "--parity-update-golden").assert_outcomes(passed=1)
    assert (pytester.path / "parity-golden" / "opencv-bilinear" / "run.json").is_file()
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_fixtures_skip_with_the_reason_without_config(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        def test_needs_model(parity_model):
            pass

        def test_candidate(parity_candidate):
            pass
    """)
    result = pytester.runpytest_subprocess("-rs", "-p", "no:cacheprovider")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(["*no ?tool.parity? in *pyproject.toml*", "*no ??tool.parity.candidates?? in *pyproject.toml*"])
