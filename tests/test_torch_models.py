"""PyTorch models: safe loading, export with the recipe, and export traps measured against real torch and ORT outputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from PIL import Image
from typer.testing import CliRunner

torch = pytest.importorskip("torch", reason="the torch extra is not installed: pip install '.[torch]'")

from fixtures.models import TINY_RECIPE  # noqa: E402
from fixtures.torch_models import TRAPS, TimmStyle, exports_differently  # noqa: E402
from parity import api  # noqa: E402
from parity.cli import app  # noqa: E402
from parity.errors import ParityError  # noqa: E402

runner = CliRunner()
TINY = TINY_RECIPE.to_dict()


def run(*args: str | Path) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


def save_weights(factory_name: str, folder: Path) -> Path:
    path = folder / f"{factory_name}.pt"
    torch.save(TRAPS[factory_name]().state_dict(), path)
    return path


def tiny_tensors(image_dir: Path) -> np.ndarray:
    """The tiny recipe applied with direct Pillow and numpy calls: resize shorter side 12, crop 8, (x/255 - 0.5)/0.25."""
    tensors = []
    for path in sorted(image_dir.iterdir()):
        image = Image.open(path).convert("RGB")
        w, h = image.size
        target = (12, int(12 * h / w)) if w <= h else (int(12 * w / h), 12)
        array = np.asarray(image.resize(target, Image.Resampling.BILINEAR))
        top, left = int(round((target[1] - 8) / 2)), int(round((target[0] - 8) / 2))
        crop = array[top : top + 8, left : left + 8].astype(np.float32) * np.float32(1 / 255)
        tensors.append(((crop - np.float32(0.5)) / np.float32(0.25)).transpose(2, 0, 1))
    return np.stack(tensors)


@pytest.mark.parametrize("trap", list(TRAPS))
def test_export_traps_are_measured_from_real_outputs(trap: str, image_dir: Path, tmp_path: Path) -> None:
    weights = save_weights(trap, tmp_path)
    exported = tmp_path / f"{trap}.onnx"
    info, _ = api.export(None, exported, recipe=TINY, model_factory=f"fixtures.torch_models:{trap}", weights=weights)
    report = api.verify_export(None, exported, image_dir, model_factory=f"fixtures.torch_models:{trap}", weights=weights, recipe=TINY)

    inputs = tiny_tensors(image_dir)
    module = TRAPS[trap]()
    module.load_state_dict(torch.load(weights, weights_only=True))
    session = ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        expected_torch = np.concatenate([module(torch.from_numpy(inputs[i : i + 8])).numpy() for i in range(0, len(inputs), 8)])
    expected_ort = np.concatenate([session.run(None, {"input": inputs[i : i + 8]})[0] for i in range(0, len(inputs), 8)])
    diff = np.abs(expected_torch.astype(np.float64) - expected_ort)

    (candidate,) = report.candidates
    assert candidate.stack["stages"]["runtime"]["implementation"] == "onnxruntime"
    assert report.reference["stages"]["runtime"]["implementation"] == "torch"
    assert candidate.metrics.flips == int((expected_torch.argmax(1) != expected_ort.argmax(1)).sum())
    assert candidate.metrics.max_abs_logit_diff == pytest.approx(diff.max(axis=1).max(), rel=1e-6, abs=1e-12)
    assert candidate.metrics.mean_abs_logit_diff == pytest.approx(diff.mean(axis=1).mean(), rel=1e-6, abs=1e-12)
    assert 0 < candidate.metrics.max_abs_logit_diff < 1e-4  # float noise only: these traps export faithfully here
    assert info["exporter"] == "torch.onnx.export(dynamo=True)"


def test_antialiased_resize_exports_as_resize_antialias_with_dynamo_and_is_refused_by_legacy(tmp_path: Path) -> None:
    weights = save_weights("bilinear_antialias", tmp_path)
    factory = "fixtures.torch_models:bilinear_antialias"
    api.export(None, tmp_path / "aa.onnx", recipe=TINY, model_factory=factory, weights=weights)
    resizes = [n for n in onnx.load(str(tmp_path / "aa.onnx")).graph.node if n.op_type == "Resize"]
    assert [a.i for n in resizes for a in n.attribute if a.name == "antialias"] == [1]
    with pytest.raises(ParityError, match="export to ONNX failed.*_upsample_bilinear2d_aa"):
        api.export(None, tmp_path / "legacy.onnx", recipe=TINY, model_factory=factory, weights=weights, exporter="legacy")


def test_recipe_survives_export_to_metadata_and_back(image_dir: Path, tmp_path: Path) -> None:
    weights = save_weights("batchnorm_eval", tmp_path)
    out = tmp_path / "bn.onnx"
    recipe = {**TINY, "mean": [0.4, 0.45, 0.5], "resize_size": 10}
    _, resolved = api.export(None, out, recipe=recipe, model_factory="fixtures.torch_models:batchnorm_eval", weights=weights)
    stored = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert json.loads(stored["parity.recipe"]) == resolved.recipe.to_dict()
    assert json.loads(stored["parity.recipe"])["mean"] == [0.4, 0.45, 0.5]
    report = api.check(out, ["pil-bilinear"], image_dir)
    assert report.recipe.recipe == resolved.recipe
    assert set(report.recipe.sources.values()) == {"model metadata"}


class WritesFile:
    """Unpickling this object writes a file: the proof that a loader ran code from a file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple:
        return (Path.write_text, (self.path, "code from the file ran"))


def test_state_dict_loading_never_runs_code_from_the_file(tmp_path: Path) -> None:
    marker = tmp_path / "pwned.txt"
    crafted = tmp_path / "crafted.pt"
    torch.save({"head.weight": WritesFile(marker)}, crafted)
    code, output = run("check", "--model-factory", "fixtures.torch_models:batchnorm_eval", "--weights", crafted,
                       "-d", "pil-bilinear", "--data", tmp_path)
    assert code == 2 and "not a state dict that loads with weights_only=True" in output
    assert not marker.exists()


def test_pickled_module_needs_the_trust_flag(tmp_path: Path, image_dir: Path) -> None:
    marker = tmp_path / "pwned.txt"
    crafted = tmp_path / "model.pt"
    torch.save(WritesFile(marker), crafted)
    code, output = run("check", crafted, "-d", "pil-bilinear", "--data", image_dir)
    assert code == 2 and "a pickled module runs code stored in the file" in output and "--trust-model" in output
    assert not marker.exists()
    code, output = run("check", crafted, "-d", "pil-bilinear", "--data", image_dir, "--trust-model")
    assert marker.exists()  # trusted: unpickled, as the user asked (and it is not a model)
    assert code == 2 and "not a model" in output


def test_a_state_dict_given_as_the_model_points_to_the_factory_flag(tmp_path: Path, image_dir: Path) -> None:
    weights = save_weights("batchnorm_eval", tmp_path)
    code, output = run("check", weights, "-d", "pil-bilinear", "--data", image_dir)
    assert code == 2 and "holds a state dict" in output and "--model-factory" in output


@pytest.mark.parametrize("kind", ["torchscript", "exported-program"])
def test_torchscript_and_pt2_load_only_when_trusted(kind: str, tmp_path: Path, image_dir: Path) -> None:
    module = TRAPS["maxpool_ceil_mode"]()
    example = torch.zeros(1, 3, 8, 8)
    if kind == "torchscript":
        path = tmp_path / "model.ts"
        torch.jit.save(torch.jit.trace(module, example), str(path))
    else:
        path = tmp_path / "model.pt2"
        torch.export.save(torch.export.export(module, (example,)), str(path))
    code, output = run("check", path, "-d", "pil-bilinear", "--data", image_dir, "--recipe", _tiny_recipe_file(tmp_path))
    assert code == 2 and "--trust-model" in output
    code, output = run("check", path, "-d", "pil-bilinear", "--data", image_dir, "--recipe", _tiny_recipe_file(tmp_path), "--trust-model")
    assert code == 0, output
    assert f"({kind})" in output and "runtime   │ torch" in output.replace("runtime │", "runtime   │")


def _tiny_recipe_file(folder: Path) -> Path:
    path = folder / "tiny.toml"
    path.write_text("\n".join(f"{k} = {json.dumps(v)}" for k, v in TINY.items()) + "\n")
    return path


def test_timm_pretrained_cfg_gives_the_recipe_and_the_reference_filter(tmp_path: Path, image_dir: Path) -> None:
    torch.save(TimmStyle().state_dict(), tmp_path / "w.pt")
    report = api.check(None, ["pil-bilinear"], image_dir, model_factory="fixtures.torch_models:TimmStyle", weights=tmp_path / "w.pt")
    recipe, sources = report.recipe.recipe, report.recipe.sources
    assert (recipe.crop_size, recipe.resize_size, recipe.mean, recipe.std) == (8, 10, (0.4, 0.5, 0.6), (0.2, 0.25, 0.3))
    assert recipe.scale == pytest.approx(1 / 255)
    assert sources["crop_size"] == sources["mean"] == "pretrained_cfg" and sources["layout"] == "default"
    assert report.reference["name"] == "pil-bicubic"


def test_pyproject_recipe_sits_between_flags_and_the_model(tmp_path: Path, image_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    torch.save(TimmStyle().state_dict(), tmp_path / "w.pt")
    (tmp_path / "pyproject.toml").write_text("[tool.parity.recipe]\nresize_size = 11\nscale = 0.004\n")
    monkeypatch.chdir(tmp_path)
    report = api.check(None, ["pil-bilinear"], image_dir, model_factory="fixtures.torch_models:TimmStyle",
                       weights=tmp_path / "w.pt", recipe={"scale": 0.005})
    sources = report.recipe.sources
    assert (sources["resize_size"], sources["scale"], sources["crop_size"]) == ("pyproject.toml", "flag", "pretrained_cfg")
    assert (report.recipe.recipe.resize_size, report.recipe.recipe.scale) == (11, 0.005)


def test_cli_export_and_verify(tmp_path: Path, image_dir: Path) -> None:
    weights = save_weights("maxpool_ceil_mode", tmp_path)
    out = tmp_path / "pool.onnx"
    args = ["--model-factory", "fixtures.torch_models:maxpool_ceil_mode", "--weights", weights, "--recipe", _tiny_recipe_file(tmp_path)]
    code, output = run("export", *args, "-o", out, "--opset", "17", "--fixed-batch")
    assert code == 0, output
    assert "opset 17" in output and "fixed batch" in output
    assert onnx.load(str(out)).graph.input[0].type.tensor_type.shape.dim[0].dim_value == 1
    code, output = run("export", *args, "-o", out, "--verify", "--data", image_dir, "--max-flips", "0")
    assert code == 0, output
    assert "PASSED" in output and "runtime   │ torch" in output


def test_verify_fails_with_exit_1_when_the_export_changes_predictions(tmp_path: Path, image_dir: Path) -> None:
    torch.save(exports_differently().state_dict(), tmp_path / "w.pt")
    args = ["--model-factory", "fixtures.torch_models:exports_differently", "--weights", tmp_path / "w.pt", "--recipe", _tiny_recipe_file(tmp_path)]
    code, output = run("export", *args, "-o", tmp_path / "m.onnx", "--verify", "--data", image_dir, "--max-flips", "0")
    assert code == 1, output
    assert "FAILED" in output


def test_torch_models_without_the_extra_name_it(tmp_path: Path, image_dir: Path, hide_module) -> None:
    hide_module("parity.models", "parity_adapters.torch", "torch")
    (tmp_path / "m.pt").write_bytes(b"x")
    code, output = run("check", tmp_path / "m.pt", "-d", "pil-bilinear", "--data", image_dir)
    assert code == 2
    assert output.strip() == "error: PyTorch models need the torch extra (No module named 'torch'); install it with: pip install 'parity[torch]'"


FACTORY_SOURCE = '''
import torch
from torch import nn


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = nn.Linear(3 * 8 * 8, 10)

    def forward(self, x):
        return {sign}self.head(x.flatten(1))


def build():
    return Tiny()


def raises():
    raise RuntimeError("no GPU here")


def one_number():
    class Argmax(Tiny):
        def forward(self, x):
            return super().forward(x).argmax(1)
    return Argmax()


class Nhwc(Tiny):
    def forward(self, x):
        return super().forward(x.permute(0, 3, 1, 2))


def nhwc():
    return Nhwc()
'''


@pytest.fixture
def local_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A factory module in the working directory, as users write them, and its weights."""
    import sys

    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PARITY_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "tinyfactory.py").write_text(FACTORY_SOURCE.format(sign=""))
    torch.manual_seed(0)
    torch.save(torch.nn.Linear(3 * 8 * 8, 10).state_dict(), tmp_path / "w.pt")
    state = torch.load(tmp_path / "w.pt", weights_only=True)
    torch.save({f"head.{k}": v for k, v in state.items()}, tmp_path / "w.pt")
    (tmp_path / "tiny.toml").write_text("\n".join(f"{k} = {json.dumps(v)}" for k, v in TINY.items()) + "\n")
    yield tmp_path
    sys.modules.pop("tinyfactory", None)


def test_editing_the_model_code_never_reuses_a_stale_export(local_factory: Path, image_dir: Path) -> None:
    import importlib
    import sys

    args = ["check", "--model-factory", "tinyfactory:build", "--weights", "w.pt", "--recipe", "tiny.toml", "-d", "pil-bilinear", "--data", image_dir]
    assert run(*args)[0] == 0
    (local_factory / "tinyfactory.py").write_text(FACTORY_SOURCE.format(sign="-"))
    importlib.reload(sys.modules["tinyfactory"])
    code, output = run(*args)
    assert code == 0, output  # the negated model is exported anew, so torch and ONNX still agree
    assert len(list((local_factory / "cache" / "exports").glob("*.onnx"))) == 2


def test_a_damaged_cached_export_is_made_again(local_factory: Path, image_dir: Path) -> None:
    args = ["check", "--model-factory", "tinyfactory:build", "--weights", "w.pt", "--recipe", "tiny.toml", "-d", "pil-bilinear", "--data", image_dir]
    assert run(*args)[0] == 0
    (cached,) = (local_factory / "cache" / "exports").glob("*.onnx")
    cached.write_text("garbage")
    code, output = run(*args)
    assert code == 0, output
    assert cached.read_bytes()[:4] != b"garb"


@pytest.mark.parametrize(("args", "message"), [
    (["--model-factory", "tinyfactory:raises", "--weights", "w.pt"], "--model-factory 'tinyfactory:raises' raised RuntimeError: no GPU here"),
    (["--model-factory", "tinyfactory:one_number", "--weights", "w.pt"], "the model's output has shape [1] for 1 image(s); parity needs logits of shape [batch, classes]"),
    (["tiny.toml", "--model-factory", "tinyfactory:build", "--weights", "w.pt"], "give either a model file (tiny.toml) or --model-factory, not both"),
    (["tiny.toml"], "tiny.toml: not an ONNX model (.onnx) nor a PyTorch file"),
    (["--model-factory", "tinyfactory:build", "--weights", "tiny.toml"], "tiny.toml: not a state dict that loads with weights_only=True"),
])
def test_pytorch_input_errors_are_one_line(args: list[str], message: str, local_factory: Path, image_dir: Path) -> None:
    code, output = run("check", *args, "--recipe", "tiny.toml", "-d", "pil-bilinear", "--data", image_dir)
    assert code == 2, output
    assert message in output and len(output.strip().splitlines()) == 1


def test_an_opset_the_exporter_does_not_write_is_an_error(local_factory: Path) -> None:
    code, output = run("export", "--model-factory", "tinyfactory:build", "--weights", "w.pt", "--recipe", "tiny.toml", "-o", "m.onnx", "--opset", "10")
    assert code == 2 and "exporter wrote opset 18, not the requested 10" in output


def test_an_nhwc_model_is_checked_against_its_export(local_factory: Path, image_dir: Path) -> None:
    (local_factory / "nhwc.toml").write_text("\n".join(f"{k} = {json.dumps(v)}" for k, v in {**TINY, "layout": "NHWC"}.items()) + "\n")
    code, output = run("check", "--model-factory", "tinyfactory:nhwc", "--weights", "w.pt", "--recipe", "nhwc.toml",
                       "-d", "pil-bilinear", "--data", image_dir)
    assert code == 0, output
