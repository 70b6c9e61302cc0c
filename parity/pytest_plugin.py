"""pytest plugin (entry point ``pytest11``): parity gates as test cases.

- ``parity.assert_parity(...)`` in any test.
- Fixtures ``parity_config``, ``parity_model`` and ``parity_data`` from ``[tool.parity]`` in the
  rootdir's pyproject.toml (tests using them skip with the reason when it is not configured).
- A test that takes ``parity_candidate`` runs once per configured candidate, named after its stack.
- ``parity_golden(stack=...)`` compares a fresh run of one stack with a golden run kept in
  ``parity-golden/`` beside pyproject.toml; ``--parity-update-golden`` writes it anew.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

import pytest

from parity import api, config
from parity.assertions import summary
from parity.report import Report


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("parity")
    group.addoption("--parity-update-golden", action="store_true", default=False,
                    help="write parity golden runs anew instead of checking against them")


def _project(rootpath: Path) -> config.ProjectConfig | None:
    return config.load(rootpath)


@pytest.fixture(scope="session")
def parity_config(pytestconfig: pytest.Config) -> config.ProjectConfig:
    """The ``[tool.parity]`` table of the rootdir's pyproject.toml."""
    project = _project(pytestconfig.rootpath)
    if project is None:
        pytest.skip(f"no [tool.parity] in {pytestconfig.rootpath / 'pyproject.toml'}")
    return project


def _configured(project: config.ProjectConfig, key: str) -> Any:
    value = project.get(key)
    if value is None:
        pytest.skip(f"tool.parity.{key} is not set in {project.path}")
    return value


@pytest.fixture(scope="session")
def parity_model(parity_config: config.ProjectConfig) -> Path:
    return _configured(parity_config, "model")


@pytest.fixture(scope="session")
def parity_data(parity_config: config.ProjectConfig) -> Path:
    return _configured(parity_config, "data")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "parity_candidate" not in metafunc.fixturenames:
        return
    project = _project(metafunc.config.rootpath)
    if project is None or not project.candidates:
        reason = f"no [[tool.parity.candidates]] in {metafunc.config.rootpath / 'pyproject.toml'}"
        metafunc.parametrize("parity_candidate", [pytest.param(None, marks=pytest.mark.skip(reason=reason))], ids=["unconfigured"])
        return
    gate, confidence = project.get("gate"), project.get("confidence")
    candidates = [api.Candidate(c.stack, project.tolerance_for(c, gate, confidence)) for c in project.candidates]
    metafunc.parametrize("parity_candidate", candidates, ids=[c.stack for c in project.candidates])


@pytest.fixture
def parity_golden(request: pytest.FixtureRequest, parity_config: config.ProjectConfig) -> Callable[..., Report]:
    """``parity_golden(stack="pil-bilinear", name=None, **check_options)``: compare a fresh run of
    ``stack`` on the configured model and data with the golden run, or write it with
    ``--parity-update-golden``. Returns the comparison report; fails the test beyond tolerance."""
    update = request.config.getoption("--parity-update-golden")

    def check_golden(stack: str = "pil-bilinear", name: str | None = None, **options: Any) -> Report:
        golden = parity_config.path.parent / "parity-golden" / (name or stack)
        if not update and not golden.is_dir():
            pytest.fail(f"no golden run at {golden}; create it with pytest --parity-update-golden", pytrace=False)
        model, data = _configured(parity_config, "model"), _configured(parity_config, "data")
        gate = {key: options.pop(key, parity_config.get(key)) for key in ("tolerance", "max_flips", "gate", "confidence")}
        with tempfile.TemporaryDirectory() as scratch:
            api.check(model, [stack], data, train=stack, save_run=scratch, labels=parity_config.get("labels"), **options)
            fresh = next(p for p in sorted(Path(scratch).iterdir()) if p.name.startswith("0-"))
            if update:
                shutil.rmtree(golden, ignore_errors=True)
                shutil.copytree(fresh, golden)
            report = api.compare(golden, fresh, **gate)
        if not report.passed:
            pytest.fail(summary(report), pytrace=False)
        return report

    return check_golden
