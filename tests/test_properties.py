"""Property tests (hypothesis): stack specs and files, recipes, tolerance parsing, metrics and binomial statistics.

Each property states a relation that the code could break; where a property exposes a real bug the test
keeps its minimal failing input pinned by ``@example``.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import tempfile
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from parity.compare import (
    Tolerance,
    kl_divergence,
    pair_metrics,
    pair_outcomes,
    parse_rate,
    summarize,
)
from parity.errors import ParityError
from parity.spec import (
    MAX_SIZE,
    PRESETS,
    RECIPE_FIELDS,
    STAGES,
    Recipe,
    Stack,
    load_stack_file,
    resolve_stack,
)
from parity.stats import (
    binomial_cdf,
    clopper_pearson_upper,
    images_to_certify,
    mcnemar_exact,
    wilson_interval,
)

# database=None: no example database written into the working tree; deadline=None: timing-independent.
FAST = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
QUICK = settings(FAST, max_examples=150)
MEDIUM = settings(FAST, max_examples=80)

PRESET_NAMES = sorted(PRESETS)
DEFAULT_STACK = Stack(name="")


# --------------------------------------------------------------------------------------------------
# Stacks: "+"-composition of presets, TOML round trip
# --------------------------------------------------------------------------------------------------

_spaces = st.sampled_from(["", " ", "  ", "\t"])


@st.composite
def compositions(draw: st.DrawFn) -> tuple[list[str], str]:
    names = draw(st.lists(st.sampled_from(PRESET_NAMES), min_size=1, max_size=6))
    spec = "+".join(draw(_spaces) + name + draw(_spaces) for name in names)
    return names, spec


@FAST
@given(compositions())
def test_any_composition_of_presets_resolves_left_to_right(case: tuple[list[str], str]) -> None:
    names, spec = case
    stack = resolve_stack(spec)
    expected = DEFAULT_STACK
    for name in names:
        expected = dataclasses.replace(expected, **PRESETS[name].stages)
    assert stack == dataclasses.replace(expected, name=spec.strip())
    # Each stage comes from the last preset that sets it, or is the reference default.
    for stage in STAGES:
        setters = [n for n in names if stage in PRESETS[n].stages]
        want = PRESETS[setters[-1]].stages[stage] if setters else getattr(DEFAULT_STACK, stage)
        assert getattr(stack, stage) == want


@FAST
@given(st.lists(st.sampled_from(PRESET_NAMES), min_size=2, max_size=5))
def test_composition_is_fold_of_pairwise_compositions(names: list[str]) -> None:
    # resolve(a+b+c) sets exactly the stages that resolving "a", then "b" over it, then "c" over that sets.
    whole = resolve_stack("+".join(names))
    folded = resolve_stack(names[0])
    for name in names[1:]:
        single = resolve_stack(name)
        folded = dataclasses.replace(folded, **{s: getattr(single, s) for s in PRESETS[name].stages})
    assert whole.stages() == folded.stages()


_junk_part = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="+/\\\x00"), min_size=1, max_size=12
).filter(lambda s: s.strip() and s.strip() not in PRESETS and not s.strip().endswith(".toml"))


@FAST
@given(st.lists(st.sampled_from(PRESET_NAMES), max_size=3), _junk_part, st.integers(0, 3))
def test_unknown_part_in_composition_is_a_parity_error(known: list[str], junk: str, where: int) -> None:
    parts = list(known)
    parts.insert(min(where, len(parts)), junk)
    with pytest.raises(ParityError, match="unknown stack"):
        resolve_stack("+".join(parts))


@FAST
@given(st.text(alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=20))
def test_any_stack_spec_resolves_or_is_a_parity_error(spec: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        try:
            stack = resolve_stack(spec, relative_to=Path(folder))
        except ParityError:
            return
    # Only preset compositions can succeed in an empty folder.
    assert all(part.strip() in PRESETS for part in spec.strip().split("+"))
    assert stack.name == spec.strip()


@FAST
@given(st.text(max_size=8))
@example("a\x00.toml")
def test_stack_spec_with_nul_is_a_parity_error(prefix: str) -> None:
    with tempfile.TemporaryDirectory() as folder, pytest.raises(ParityError):
        resolve_stack(prefix + "\x00.toml", relative_to=Path(folder))


_special = ['"', "'", "\\", '\\"', '"""', "'''", "\\u0041", "\n", "\r\n", "\t", "#", "=", "[stages]", "é", "名前", "\x00", "\x1f", "\x7f"]


def _valid_strings(max_codepoint: int) -> st.SearchStrategy[str]:
    chars = st.characters(exclude_categories=("Cs",), max_codepoint=max_codepoint)
    pieces = st.one_of(st.text(chars, min_size=1, max_size=6), st.sampled_from(_special))
    return st.lists(pieces, min_size=1, max_size=4).map("".join)


def _stacks(max_codepoint: int) -> st.SearchStrategy[Stack]:
    text = _valid_strings(max_codepoint)
    return st.builds(Stack, name=text, **{stage: text for stage in STAGES})


def _round_trip(stack: Stack) -> Stack:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "stack.toml"
        path.write_text(stack.to_toml(), encoding="utf-8")
        return load_stack_file(path)


@QUICK
@given(_stacks(max_codepoint=0xFFFF))
@example(Stack(name='quote " back\\slash', decode='C:\\path\\"x"', colour="'single'", resize='"""', crop="ünï\tcödé", normalize="line\nbreak", runtime="\\u0041"))
def test_stack_toml_round_trip_bmp(stack: Stack) -> None:
    assert _round_trip(stack) == stack


@FAST
@given(_stacks(max_codepoint=0x10FFFF))
@example(Stack(name="\U0001f600"))
def test_stack_toml_round_trip_full_unicode(stack: Stack) -> None:
    assert _round_trip(stack) == stack


@FAST
@given(
    compositions(),
    st.dictionaries(st.sampled_from(STAGES), _valid_strings(0xFFFF), max_size=len(STAGES)),
    _valid_strings(0xFFFF),
)
def test_stack_file_extends_composition_then_overrides(case: tuple[list[str], str], stages: dict[str, str], name: str) -> None:
    _, spec = case
    lines = [f"name = {json.dumps(name)}", f"extends = {json.dumps(spec)}", "[stages]"]
    lines += [f"{stage} = {json.dumps(impl)}" for stage, impl in stages.items()]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "s.toml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        loaded = load_stack_file(path)
    assert loaded == dataclasses.replace(resolve_stack(spec), name=name, **stages)


# --------------------------------------------------------------------------------------------------
# Recipes: to_dict / from_dict round trip, invalid values are ParityError
# --------------------------------------------------------------------------------------------------

_sizes = st.integers(1, MAX_SIZE)
_finite = st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-1000, 1000))
_nonzero = _finite.filter(lambda v: v != 0)
_positive = st.one_of(st.floats(min_value=0.0, exclude_min=True, allow_infinity=False), st.integers(1, 1000))

_valid_fields: dict[str, st.SearchStrategy] = {
    "resize_size": _sizes,
    "crop_size": _sizes,
    "resize_policy": st.sampled_from(["shorter", "exact"]),
    "scale": _positive,
    "mean": st.lists(_finite, min_size=3, max_size=3),
    "std": st.lists(_nonzero, min_size=3, max_size=3),
    "channel_order": st.sampled_from(["RGB", "BGR"]),
    "layout": st.sampled_from(["NCHW", "NHWC"]),
    "dtype": st.sampled_from(["float32", "float16"]),
}
assert set(_valid_fields) == RECIPE_FIELDS


@st.composite
def recipe_dicts(draw: st.DrawFn) -> dict:
    fields = draw(st.lists(st.sampled_from(sorted(RECIPE_FIELDS)), unique=True))
    return {name: draw(_valid_fields[name]) for name in fields}


@QUICK
@given(recipe_dicts())
def test_recipe_dict_round_trip(data: dict) -> None:
    recipe = Recipe.from_dict(data)
    for name, value in data.items():
        assert getattr(recipe, name) == (tuple(value) if isinstance(value, list) else value)
    plain = recipe.to_dict()
    assert Recipe.from_dict(plain) == recipe
    # The plain view survives JSON exactly (floats repr-round-trip, ints stay ints).
    assert Recipe.from_dict(json.loads(json.dumps(plain))) == recipe
    hash(recipe)  # frozen recipes built from plain data are hashable


_junk_scalar = st.one_of(
    st.none(), st.booleans(), st.text(max_size=5), st.just(math.nan), st.just(math.inf), st.just(-math.inf),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)
_bad_number_in_triple = st.one_of(
    st.just(math.nan), st.just(math.inf), st.just(-math.inf), st.none(), st.booleans(), st.text(max_size=3), st.lists(st.integers(), max_size=2)
)


@st.composite
def _bad_triple(draw: st.DrawFn, zero_ok: bool) -> object:
    kind = draw(st.sampled_from(["length", "element", "type"] + ([] if zero_ok else ["zero"])))
    if kind == "length":
        return draw(st.lists(_finite.filter(lambda v: v != 0), max_size=6).filter(lambda xs: len(xs) != 3))
    if kind == "type":
        return draw(st.one_of(_junk_scalar, st.floats(), st.integers()))
    triple = draw(st.lists(_nonzero, min_size=3, max_size=3))
    triple[draw(st.integers(0, 2))] = draw(st.sampled_from([0, 0.0, -0.0])) if kind == "zero" else draw(_bad_number_in_triple)
    return triple


_invalid_fields: dict[str, st.SearchStrategy] = {
    "resize_size": st.one_of(st.integers(max_value=0), st.integers(min_value=MAX_SIZE + 1), st.floats(), _junk_scalar),
    "crop_size": st.one_of(st.integers(max_value=0), st.integers(min_value=MAX_SIZE + 1), st.floats(), _junk_scalar),
    "scale": st.one_of(st.floats(max_value=0.0), st.integers(max_value=0), _junk_scalar, st.lists(st.floats(), max_size=2)),
    "mean": _bad_triple(zero_ok=True),
    "std": _bad_triple(zero_ok=False),
    "resize_policy": st.one_of(st.text(max_size=8).filter(lambda s: s not in ("shorter", "exact")), _junk_scalar.filter(lambda v: not isinstance(v, str)), st.integers()),
    "channel_order": st.one_of(st.text(max_size=4).filter(lambda s: s not in ("RGB", "BGR")), st.integers(), st.none()),
    "layout": st.one_of(st.text(max_size=4).filter(lambda s: s not in ("NCHW", "NHWC")), st.integers(), st.none()),
    "dtype": st.one_of(st.text(max_size=8).filter(lambda s: s not in ("float32", "float16")), st.integers(), st.none()),
}
assert set(_invalid_fields) == RECIPE_FIELDS


@QUICK
@given(recipe_dicts(), st.sampled_from(sorted(RECIPE_FIELDS)), st.data())
def test_invalid_recipe_value_is_a_parity_error(data: dict, field: str, draw: st.DataObject) -> None:
    bad = draw.draw(_invalid_fields[field], label=field)
    with pytest.raises(ParityError):
        Recipe.from_dict({**data, field: bad})


@pytest.mark.parametrize(
    "field, value",
    [("crop_size", 0), ("resize_size", -3), ("resize_size", 224.0), ("crop_size", True), ("scale", -1 / 255), ("scale", 0),
     ("scale", math.nan), ("scale", math.inf), ("std", [0.2, 0, 0.2]), ("std", [0.2, -0.0, 0.2]), ("mean", [0.5, math.nan, 0.5]),
     ("mean", [0.5, 0.5]), ("std", "0.2"), ("layout", "nchw"), ("dtype", None)],
)
def test_named_invalid_recipe_values(field: str, value: object) -> None:
    with pytest.raises(ParityError):
        Recipe.from_dict({field: value})


@FAST
@given(recipe_dicts(), st.text(min_size=1, max_size=10).filter(lambda k: k not in RECIPE_FIELDS), st.integers())
def test_unknown_recipe_field_is_a_parity_error(data: dict, key: str, value: int) -> None:
    with pytest.raises(ParityError, match="unknown field"):
        Recipe.from_dict({**data, key: value})


@FAST
@given(st.one_of(st.none(), st.integers(), st.text(), st.lists(st.integers())))
def test_non_mapping_recipe_is_a_parity_error(value: object) -> None:
    with pytest.raises(ParityError):
        Recipe.from_dict(value)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# Tolerance / parse_rate
# --------------------------------------------------------------------------------------------------

# Decimal percentages x in [0, 100) with up to 6 places, written without exponent.
_percent = st.decimals(min_value=0, max_value=Decimal("99.999999"), places=6, allow_nan=False, allow_infinity=False)


def _plain(d: Decimal) -> str:
    return format(d, "f")


@QUICK
@given(_percent)
def test_percent_and_fraction_parse_to_the_same_rate(x: Decimal) -> None:
    as_percent = Tolerance.parse(rate=_plain(x) + "%")
    as_fraction = Tolerance.parse(rate=_plain(x / 100))
    assert math.isclose(as_percent.rate, as_fraction.rate, rel_tol=4e-16, abs_tol=0)
    assert math.isclose(as_percent.rate, float(x) / 100, rel_tol=4e-16, abs_tol=0)
    assert 0 <= as_percent.rate <= 1 and 0 <= as_fraction.rate <= 1
    assert (as_percent.gate, as_percent.max_flips, as_percent.confidence) == (as_fraction.gate, as_fraction.max_flips, as_fraction.confidence)


@QUICK
@given(_percent)
@example(Decimal("0.07"))
def test_percent_and_fraction_parse_to_equal_tolerances(x: Decimal) -> None:
    assert Tolerance.parse(rate=_plain(x) + "%") == Tolerance.parse(rate=_plain(x / 100))


@QUICK
@given(st.floats(min_value=0.0, max_value=1.0, exclude_max=True))
@example(1e-05)
def test_float_rate_parses_to_itself(rate: float) -> None:
    assert Tolerance.parse(rate=rate).rate == rate


@QUICK
@given(st.floats(min_value=1e-4, max_value=1.0, exclude_max=True))
def test_float_rate_from_1e_4_parses_to_itself(rate: float) -> None:
    assert Tolerance.parse(rate=rate).rate == rate


_anything = st.one_of(
    st.text(max_size=12),
    st.text(alphabet="0123456789.%eE+- \t", max_size=10),
    st.floats(),
    st.integers(),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
)


@QUICK
@given(_anything)
def test_rate_parser_accepts_only_rates_in_unit_interval(text: object) -> None:
    for parse in (lambda: Tolerance.parse(rate=text).rate, lambda: parse_rate(text, "--tolerance")):
        try:
            value = parse()
        except ParityError:
            continue
        assert isinstance(value, float) and 0 <= value <= 1


@QUICK
@given(_anything)
def test_confidence_parser_accepts_only_levels_in_half_open_range(text: object) -> None:
    try:
        tolerance = Tolerance.parse(confidence=text)
    except ParityError:
        return
    assert 0.5 <= tolerance.confidence < 1


@QUICK
@given(st.text(max_size=12).filter(lambda s: any(c.isalpha() for c in s)))
@example("1e-3")
@example("nan")
@example("inf")
@example("0.5 %%")
def test_junk_with_letters_is_a_parity_error(text: str) -> None:
    with pytest.raises(ParityError):
        Tolerance.parse(rate=text)


@pytest.mark.parametrize(
    "text", ["", " ", "%", ".", "5.", "-1%", "-0.1", "+0.1", "1.2.3", "0.5%%", "150%", "100.0001%", "1", "1.0", "2.5", "½", "٣%", "0,5%", "1 2%"]
)
def test_named_junk_rates_are_parity_errors(text: str) -> None:
    with pytest.raises(ParityError):
        Tolerance.parse(rate=text)


@FAST
@given(st.one_of(st.integers(max_value=-1), st.booleans(), st.floats(), st.text(max_size=3)))
def test_bad_max_flips_is_a_parity_error(value: object) -> None:
    with pytest.raises(ParityError):
        Tolerance.parse(max_flips=value)  # type: ignore[arg-type]


@FAST
@given(st.text(min_size=1, max_size=8).filter(lambda g: g not in ("point", "upper")))
def test_bad_gate_is_a_parity_error(gate: str) -> None:
    with pytest.raises(ParityError):
        Tolerance.parse(gate=gate)


# --------------------------------------------------------------------------------------------------
# Metrics: flips, Wilson / exact bounds, accuracy, KL
# --------------------------------------------------------------------------------------------------


@st.composite
def paired_runs(draw: st.DrawFn, failures: bool = True) -> tuple[list, list, list, int]:
    """Rows of small-integer logits (so ties happen), with optional failures (strings) and labels."""
    classes = draw(st.integers(1, 6))
    n = draw(st.integers(1, 40))
    row = st.lists(st.integers(-3, 3).map(float), min_size=classes, max_size=classes)
    side = st.one_of(row, st.just("decode failed")) if failures else row
    reference = draw(st.lists(side, min_size=n, max_size=n))
    candidate = draw(st.lists(side, min_size=n, max_size=n))
    labels = draw(st.lists(st.one_of(st.none(), st.integers(0, classes - 1)), min_size=n, max_size=n))
    return reference, candidate, labels, classes


def _top1(row: list[float]) -> int:
    return row.index(max(row))  # ties go to the lowest class index


def _run(reference: list, candidate: list, labels: list, confidence: float = 0.95):
    arrays = lambda col: [v if isinstance(v, str) else np.array(v) for v in col]
    outcomes = pair_outcomes([f"img{i}" for i in range(len(labels))], labels, arrays(reference), arrays(candidate))
    return summarize(outcomes, confidence)


@MEDIUM
@given(paired_runs(), st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_summary_counts_and_flip_rate(run: tuple, confidence: float) -> None:
    reference, candidate, labels, _ = run
    m = _run(reference, candidate, labels, confidence)
    ok_r = [not isinstance(r, str) for r in reference]
    ok_c = [not isinstance(c, str) for c in candidate]
    flips = sum(a and b and _top1(r) != _top1(c) for a, b, r, c in zip(ok_r, ok_c, reference, candidate))
    one_side = sum(a != b for a, b in zip(ok_r, ok_c))
    judged = sum(a or b for a, b in zip(ok_r, ok_c))
    assert (m.flips, m.disagreements, m.images) == (flips, flips + one_side, judged)
    assert m.compared == sum(a and b for a, b in zip(ok_r, ok_c))
    assert m.failed_both == len(labels) - judged
    if judged:
        assert m.flip_rate == (flips + one_side) / judged
    else:
        assert (m.flip_rate, m.flip_rate_upper) == (0.0, 1.0)
    assert 0.0 <= m.flip_rate_low <= m.flip_rate_high <= 1.0
    assert m.flip_rate <= m.flip_rate_upper <= 1.0
    if 0 < m.disagreements < m.images:
        # Wilson edges at 0 and n are covered (and currently fail) in test_wilson_interval_contains_edge_proportions.
        assert m.flip_rate_low <= m.flip_rate <= m.flip_rate_high
    if m.top5_agreement is not None:
        assert 0.0 <= m.top5_agreement <= 1.0
        assert 0.0 <= m.mean_abs_logit_diff <= m.max_abs_logit_diff


@MEDIUM
@given(paired_runs(failures=False))
def test_flip_rate_is_flips_over_images_without_failures(run: tuple) -> None:
    reference, candidate, labels, _ = run
    m = _run(reference, candidate, labels)
    flips = sum(_top1(r) != _top1(c) for r, c in zip(reference, candidate))
    assert m.images == len(labels) and m.flips == flips == m.disagreements
    assert m.flip_rate == flips / len(labels)
    assert m.flip_rate <= m.flip_rate_upper
    if reference == candidate:
        assert m.flips == 0 and m.top5_agreement == 1.0 and m.max_abs_logit_diff == 0.0 and m.mean_kl == 0.0


@MEDIUM
@given(paired_runs())
def test_delta_accuracy_sign_and_value(run: tuple) -> None:
    reference, candidate, labels, _ = run
    m = _run(reference, candidate, labels)
    judged = [i for i in range(len(labels)) if not (isinstance(reference[i], str) and isinstance(candidate[i], str))]
    labelled = [i for i in judged if labels[i] is not None]
    right = lambda col, i: not isinstance(col[i], str) and _top1(col[i]) == labels[i]
    ref_correct = sum(right(reference, i) for i in labelled)
    cand_correct = sum(right(candidate, i) for i in labelled)
    if not labelled:
        assert m.delta_accuracy is None and m.labelled == 0 and m.mcnemar_p is None
        return
    assert (m.labelled, m.reference_correct, m.candidate_correct) == (len(labelled), ref_correct, cand_correct)
    # Δaccuracy is reference minus candidate: positive means the candidate is worse.
    sign = lambda v: (v > 0) - (v < 0)
    assert sign(m.delta_accuracy) == sign(ref_correct - cand_correct) == -sign(cand_correct - ref_correct)
    assert math.isclose(m.delta_accuracy, m.reference_accuracy - m.candidate_accuracy, abs_tol=1e-12)
    assert m.right_to_wrong - m.wrong_to_right == ref_correct - cand_correct
    assert 0.0 < m.mcnemar_p <= 1.0


_logit = st.floats(-50, 50, allow_nan=False)


@st.composite
def logit_pairs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = draw(st.integers(1, 5)), draw(st.integers(1, 8))
    a = np.array(draw(st.lists(st.lists(_logit, min_size=cols, max_size=cols), min_size=rows, max_size=rows)))
    b = np.array(draw(st.lists(st.lists(_logit, min_size=cols, max_size=cols), min_size=rows, max_size=rows)))
    return a, b


@QUICK
@given(logit_pairs())
def test_kl_is_zero_for_identical_logits(pair: tuple[np.ndarray, np.ndarray]) -> None:
    a, _ = pair
    assert (kl_divergence(a, a) == 0.0).all()
    assert (kl_divergence(a.astype(np.float32), a.astype(np.float32)) == 0.0).all()
    for m in pair_metrics(a, a.copy()):
        assert (m.kl, m.max_abs_diff, m.mean_abs_diff, m.top5_overlap) == (0.0, 0.0, 0.0, 1.0)


@QUICK
@given(logit_pairs())
@example((np.array([[0.0, 0.0]]), np.array([[0.0, 1e-9]])))
def test_kl_is_nonnegative(pair: tuple[np.ndarray, np.ndarray]) -> None:
    a, b = pair
    assert (kl_divergence(a, b) >= 0.0).all()


@QUICK
@given(logit_pairs(), st.floats(0, 1e-6))
@example((np.array([[0.0, 0.0]]), np.array([[0.0, 1e-9]])), 0.0)
def test_kl_is_nonnegative_up_to_rounding_and_positive_when_distributions_differ(pair: tuple[np.ndarray, np.ndarray], jitter: float) -> None:
    a, b = pair
    b = b if jitter == 0 else a + jitter * np.sign(b)  # also probe nearly identical logits
    kl = kl_divergence(a, b)
    assert (kl >= -1e-12).all()  # float64 rounding only: KL(p||q) >= 0
    # Clearly different softmax distributions have clearly positive KL (checked against a direct formula).
    p = np.exp(a - a.max(1, keepdims=True)); p /= p.sum(1, keepdims=True)
    q = np.exp(b - b.max(1, keepdims=True)); q /= q.sum(1, keepdims=True)
    for i in range(len(a)):
        if np.abs(p[i] - q[i]).sum() > 1e-3 and (q[i] > 1e-300).all():
            assert kl[i] > 0
            assert math.isclose(kl[i], float(np.sum(p[i] * np.log(np.where(p[i] > 0, p[i], 1) / q[i]))), rel_tol=1e-6, abs_tol=1e-9)


@FAST
@given(logit_pairs())
def test_pair_metrics_bounds(pair: tuple[np.ndarray, np.ndarray]) -> None:
    a, b = pair
    for row, m in enumerate(pair_metrics(a, b)):
        k = min(5, a.shape[1])
        assert m.top5_overlap * k == round(m.top5_overlap * k) and 0 <= m.top5_overlap <= 1
        assert 0.0 <= m.mean_abs_diff <= m.max_abs_diff == float(np.abs(a[row] - b[row]).max())
    with pytest.raises(ParityError):
        pair_metrics(a, np.zeros((a.shape[0], a.shape[1] + 1)))


# --------------------------------------------------------------------------------------------------
# Binomial statistics
# --------------------------------------------------------------------------------------------------


@QUICK
@given(st.integers(1, 5000), st.data(), st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_wilson_interval_contains_interior_proportions(n: int, data: st.DataObject, confidence: float) -> None:
    assume(n >= 2)
    k = data.draw(st.integers(1, n - 1))
    low, high = wilson_interval(k, n, confidence)
    assert 0.0 <= low < k / n < high <= 1.0


@QUICK
@given(st.integers(1, 2000), st.booleans())
@example(5, False)
@example(13, True)
def test_wilson_interval_contains_edge_proportions(n: int, all_flipped: bool) -> None:
    k = n if all_flipped else 0
    low, high = wilson_interval(k, n)
    assert low <= k / n <= high


@QUICK
@given(st.integers(1, 200), st.data(), st.sampled_from([0.5, 0.8, 0.9, 0.95, 0.99, 0.999]))
def test_clopper_pearson_upper_monotone_and_above_point_estimate(n: int, data: st.DataObject, confidence: float) -> None:
    k1 = data.draw(st.integers(0, n))
    k2 = data.draw(st.integers(k1, n))
    u1, u2 = clopper_pearson_upper(k1, n, confidence), clopper_pearson_upper(k2, n, confidence)
    assert k1 / n <= u1 <= u2 <= 1.0
    if k1 < k2:
        assert u1 < u2
    if k1 < n:
        assert u1 > k1 / n
        # More images with the same flips: a tighter bound; more confidence: a looser one.
        assert clopper_pearson_upper(k1, n + 1, confidence) < u1
        assert clopper_pearson_upper(k1, n, min(0.9999, confidence + 0.01)) > u1
    else:
        assert u1 == 1.0


@MEDIUM
@given(st.integers(1, 300), st.data(), st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_clopper_pearson_upper_matches_beta_quantile(n: int, data: st.DataObject, confidence: float) -> None:
    beta = pytest.importorskip("scipy.stats").beta
    k = data.draw(st.integers(0, n - 1))
    assert math.isclose(clopper_pearson_upper(k, n, confidence), float(beta.ppf(confidence, k + 1, n - k)), rel_tol=1e-8, abs_tol=1e-10)


@QUICK
@given(st.integers(0, 60), st.data(), st.floats(0.0, 1.0))
def test_binomial_cdf_in_unit_interval_monotone_and_exact(n: int, data: st.DataObject, p: float) -> None:
    k = data.draw(st.integers(-2, n + 2))
    c = binomial_cdf(k, n, p)
    assert 0.0 <= c <= 1.0
    assert binomial_cdf(k - 1, n, p) <= c <= binomial_cdf(k + 1, n, p)
    # Exact rational value for small n.
    fp = Fraction(p)
    exact = sum((math.comb(n, i) * fp**i * (1 - fp) ** (n - i) for i in range(min(k, n) + 1)), Fraction(0))
    assert math.isclose(c, float(exact), rel_tol=1e-9, abs_tol=1e-300)


@MEDIUM
@given(st.integers(1, 250), st.data(), st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_binomial_cdf_monotone_in_k_and_p(n: int, data: st.DataObject, p1: float, p2: float) -> None:
    k = data.draw(st.integers(0, n))
    values = [binomial_cdf(i, n, p1) for i in range(-1, n + 2)]
    assert all(0.0 <= v <= 1.0 for v in values)
    assert all(a <= b for a, b in itertools.pairwise(values))
    assert values[0] == 0.0 and values[-1] == 1.0
    lo, hi = sorted((p1, p2))
    assert binomial_cdf(k, n, hi) <= binomial_cdf(k, n, lo) * (1 + 1e-12)


@QUICK
@given(st.integers(0, 300), st.integers(0, 300))
def test_mcnemar_symmetric_and_a_probability(b: int, c: int) -> None:
    p = mcnemar_exact(b, c)
    assert p == mcnemar_exact(c, b)
    assert 0.0 < p <= 1.0
    if b == c:
        assert p == 1.0
    if b + c > 0:
        # A more lopsided split is no more likely: moving one discordant image to the majority lowers p.
        small, big = sorted((b, c))
        if small > 0:
            assert mcnemar_exact(small - 1, big + 1) <= p


@QUICK
@given(st.floats(0.002, 0.5), st.sampled_from([0.8, 0.9, 0.95, 0.99]), st.integers(0, 5))
def test_images_to_certify_is_the_smallest_sufficient_sample(rate: float, confidence: float, flips: int) -> None:
    n = images_to_certify(rate, confidence, flips)
    assert n > flips
    assert clopper_pearson_upper(flips, n, confidence) <= rate + 1e-11
    if n - 1 > flips:
        assert clopper_pearson_upper(flips, n - 1, confidence) > rate - 1e-11
