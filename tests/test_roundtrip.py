"""Derivative text printed by SymPy parses back to the same derivative, so a derivative from
a report can be pasted back as a claim; and the parse_tree/to_sympy API, constants and
names that must never silently mean something else."""

import ast
import math
import json
import random
from pathlib import Path

import pytest
import sympy

from benchmarks.fuzz import random_expression
from gradcheck.errors import ExpressionError
from gradcheck.parse import (
    CONSTANTS,
    FUNCTIONS,
    MAX_LENGTH,
    SyntaxTree,
    parse,
    parse_tree,
    parse_validated,
    symbol,
    to_sympy,
)

CORPUS = Path(__file__).resolve().parents[1] / "benchmarks" / "corpus.json"

HAND_PICKED = [
    "abs(w*x - 1)", "max(w*x, 1 - w)", "min(x, w**2)", "relu(w*x + b)", "sigmoid(w*x + b)",
    "softplus(w*x - b)", "sqrt(w**2 + x**2)", "asin(w*x/2)", "acos(w - x/3)", "atan(w/x)",
    "tan(w*x)", "tanh(w*x + b)", "(w*x + b)**3", "x**w", "w**-2", "(w*x)**(1/3)", "x**2.5*w",
    "abs(x)**3", "abs(w)*sin(w*x)", "relu(w)**2", "max(w, x, b)", "min(w, 1)*max(x, 0)",
    "log(abs(w))", "sqrt(abs(w*x))", "log(1 + exp(-w))", "abs(sigmoid(w) - 0.5)",
    "exp(-w^2/2)/sqrt(2*pi)", "cosh(w)*sinh(x)", "relu(log(w))", "max(sqrt(w), x)",
    # the names SymPy prints, pasted back in
    "sign(w)*x", "Heaviside(w - x)", "Heaviside(w, 0)*x", "DiracDelta(w - 1)",
    "DiracDelta(w, 1)*x", "Max(w, x**2)", "Min(w, e*x)", "Abs(w - x)",
    # constants, every spelling
    "e**(w*x)", "π*w**2", "E*pi*w",
]


def corpus_texts():
    entries = json.loads(CORPUS.read_text())["entries"]
    texts = []
    for entry in entries:
        texts.append(entry["expression"])
        texts.extend(entry["claim"].values())
    return list(dict.fromkeys(texts))


def random_texts(count=60, seed=2026):
    rng = random.Random(seed)
    found = []
    while len(found) < count:
        text = random_expression(rng, 4)
        try:
            expr = parse(text)
        except ExpressionError:
            continue
        if expr.free_symbols:
            found.append(text)
    return found


def derivative_cases():
    """(source text, variable, order, derivative) for every variable of every expression:
    first derivatives of all, second derivatives of the hand-picked ones and the corpus."""
    cases = []
    second = set(HAND_PICKED) | set(corpus_texts())
    for text in dict.fromkeys(HAND_PICKED + corpus_texts() + random_texts()):
        expr = parse(text)
        for variable in sorted(expr.free_symbols, key=lambda s: s.name):
            first = sympy.diff(expr, variable)
            cases.append((text, variable.name, 1, first))
            if text in second:
                cases.append((text, variable.name, 2, sympy.diff(first, variable)))
    return cases


CASES = derivative_cases()


def numerically_equal(a, b, seed=0):
    """a == b at three seeded points, evaluated at 30 digits. Floats in the derivative are
    printed with 15 digits, so then the tolerance is that of a float64 round trip."""
    symbols = sorted(a.free_symbols | b.free_symbols, key=lambda s: s.name)
    tolerance = sympy.Float("1e-11") if a.has(sympy.Float) else sympy.Float("1e-25")
    rng = random.Random(seed)
    compared = 0
    for _ in range(20):
        point = {s: sympy.Rational(rng.randint(110, 890), 1000) for s in symbols}
        left, right = a.evalf(30, subs=point), b.evalf(30, subs=point)
        if not (left.is_number and right.is_number) or left.has(sympy.nan, sympy.zoo, sympy.oo):
            continue
        gap = abs(sympy.N(left - right, 30))
        if gap > tolerance * max(abs(left), abs(right), 1):
            return False
        compared += 1
        if compared == 3:
            return True
    return compared > 0


@pytest.mark.parametrize("text, name, order, derivative", CASES,
                         ids=[f"{t[:40]}-d{n}-{o}" for t, n, o, _ in CASES])
def test_printed_derivative_parses_back(text, name, order, derivative):
    printed = str(derivative)
    if len(printed) > MAX_LENGTH:
        pytest.skip(f"printed derivative is {len(printed)} characters, over the parser's limit")
    back = parse(printed)
    assert back == derivative or numerically_equal(back, derivative), (printed, back)


def test_the_numeric_comparison_is_sharp():
    x = symbol("x")
    assert numerically_equal(sympy.sin(x) * 2, 2 * sympy.sin(x))
    assert not numerically_equal(sympy.sin(x) * (1 + sympy.Rational(1, 10**20)), sympy.sin(x))
    assert not numerically_equal(sympy.Float(0.3) * x * (1 + 1e-9), sympy.Float(0.3) * x)


def test_most_round_trips_are_structural():
    structural = sum(parse(str(d)) == d for *_, d in CASES)
    assert structural >= 0.6 * len(CASES)


# SymPy differentiates |f| for an f it cannot prove real (log, sqrt, asin, non-integer
# powers of real symbols) through re/im/atan2, and leaves a second derivative of sign(f)
# an unevaluated Derivative. gradcheck's variables are real, so it differentiates |u| as
# sign(u) u' and sign(u) as 2 DiracDelta(u) u': what the report prints then parses back.
GAPS = [("abs(sqrt(w))", 1), ("abs(asin(w))", 1), ("abs(w**x)", 1), ("abs(log(w))", 2),
        ("abs(sqrt(w))", 2), ("sign(log(w))*w**2", 2)]


@pytest.mark.parametrize("text, order", GAPS)
def test_reported_derivatives_of_abs_of_maybe_complex_parse_back(text, order):
    import gradcheck
    at = {"w": 0.3, "x": 1.3} if "x" in text else {"w": 0.3}
    report = gradcheck.check(text, wrt=["w"], at=at, order=order)
    printed = report.derivatives["w" if order == 1 else "w,w"]
    assert report.ok, report  # SymPy's value agrees with the tape's and the numeric one
    pasted = parse(printed)
    values = {symbol(name): sympy.Float(value, 30) for name, value in at.items()}
    # the point is off every jump: DiracDelta is 0 there
    value = float(pasted.replace(sympy.DiracDelta, lambda *a: sympy.Integer(0)).evalf(30, subs=values))
    assert math.isclose(value, report.points[0].params[0].symbolic, rel_tol=1e-12)


# --- parse_tree / to_sympy -------------------------------------------------------------

ALLOWED = (ast.BinOp, ast.UnaryOp, ast.Constant, ast.Name, ast.Call,
           ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.USub, ast.UAdd, ast.Load)


def node_kinds_are_whitelisted(body):
    for node in ast.walk(body):
        assert isinstance(node, ALLOWED), ast.dump(node)
        if isinstance(node, ast.Constant):
            assert type(node.value) in (int, float)
        if isinstance(node, ast.Call):
            assert isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS
            assert not node.keywords
            assert not any(isinstance(argument, ast.Starred) for argument in node.args)
    return True


@pytest.mark.parametrize("text", HAND_PICKED + corpus_texts())
def test_tree_converts_to_what_parse_gives(text):
    tree = parse_tree(text)
    assert isinstance(tree, SyntaxTree) and tree.text == text
    assert node_kinds_are_whitelisted(tree.body)
    assert to_sympy(tree) == parse(text)
    expr = parse(text)
    assert set(tree.names) == {s.name for s in expr.free_symbols}
    validated, built = parse_validated(text)  # the SymPy form kept from validation
    assert (validated.names, validated.constants) == (tree.names, tree.constants)
    assert ast.dump(validated.body) == ast.dump(tree.body) and built == expr


def test_tree_fields():
    tree = parse_tree("  e^(-x^2) * sin(w*x) / pi + relu(b) + E*π ")
    assert tree.names == ("b", "w", "x")          # no function names, no constants
    assert tree.constants == ("E", "e", "pi", "π")
    assert tree.text == "  e^(-x^2) * sin(w*x) / pi + relu(b) + E*π "
    assert list(tree.names) == sorted(tree.names)
    with pytest.raises(AttributeError):  # frozen
        tree.text = "x"


def test_caret_is_already_a_power_in_the_tree():
    body = parse_tree("x^2").body
    assert isinstance(body, ast.BinOp) and isinstance(body.op, ast.Pow)
    assert ast.dump(body) == ast.dump(ast.parse("x**2", mode="eval").body)


@pytest.mark.parametrize("text", ["x.real", "sine(x)", "x/0", "(x + 1", "w·x", "2x", "sqrt(-1)",
                                  "sigmoid(" * 6 + "2" + ")" * 6, "x" * 20000, ""])
def test_parse_tree_refuses_what_parse_refuses(text):
    with pytest.raises(ExpressionError) as by_parse:
        parse(text)
    with pytest.raises(ExpressionError) as by_tree:
        parse_tree(text)
    assert (by_tree.value.message, by_tree.value.column) == (by_parse.value.message,
                                                            by_parse.value.column)


def test_to_sympy_takes_only_a_tree():
    with pytest.raises(TypeError):
        to_sympy("x + 1")


def test_to_sympy_still_refuses_a_hand_built_tree():
    evil = ast.parse("x.__class__", mode="eval").body
    with pytest.raises(ExpressionError, match="attribute access"):
        to_sympy(SyntaxTree("x.__class__", evil, ("x",), ()))


# --- constants, and names that must not silently mean something else ------------------

x, w = symbol("x"), symbol("w")


@pytest.mark.parametrize("text, expected", [
    ("e", sympy.E), ("E", sympy.E), ("π", sympy.pi), ("pi", sympy.pi),
    ("e**x", sympy.exp(x)), ("2*π*w", 2 * sympy.pi * w), ("log(e)", sympy.Integer(1)),
])
def test_e_and_pi_are_constants(text, expected):
    assert parse(text) == expected
    assert {"e", "E", "π", "pi"} <= set(CONSTANTS)


@pytest.mark.parametrize("name", ["e", "E", "π", "pi"])
def test_listed_names_are_variables(name):
    assert parse(f"{name}*x", variables=[name]) == symbol(name) * x
    tree = parse_tree(f"{name}*x + E*pi", variables=(name,))
    assert name in tree.names and name not in tree.constants
    assert to_sympy(parse_tree(f"{name}*x"), [name]) == symbol(name) * x
    assert to_sympy(parse_tree(f"{name}*x")) == CONSTANTS[name] * x


def test_a_variable_e_is_validated_as_a_variable():
    # 1/(e - E) divides by zero when e is the constant, not when it is a variable
    with pytest.raises(ExpressionError, match="division by zero"):
        parse("1/(e - E)")
    assert parse("1/(e - E)", variables=["e"]) == 1 / (symbol("e") - sympy.E)
    tree = parse_tree("1/(e - E)", variables=["e"])
    with pytest.raises(ExpressionError, match="division by zero"):
        to_sympy(tree)  # read with e as a constant again: checked again


def test_variables_must_be_names_not_one_string():
    with pytest.raises(TypeError):
        parse("pi*x", variables="pi")  # would be {'p', 'i'}
    with pytest.raises(TypeError):
        parse("pi*x", variables=[3])


@pytest.mark.parametrize("text, column", [
    ("w·x", 1), ("x + w·x", 5), ("w\u0387x", 1), ("w⋅x", 1), ("2·x", 1), ("(w)·x", 3),
])
def test_multiplication_dots_are_refused_with_a_hint(text, column):
    with pytest.raises(ExpressionError) as info:
        parse(text)
    assert info.value.column == column
    assert info.value.message.endswith("is not allowed; write * to multiply")
    assert "\n" not in info.value.message


@pytest.mark.parametrize("text, spelled", [("ℯ*x", "ℯ"), ("ϖ*x", "ϖ")])
def test_look_alikes_of_constants_are_refused(text, spelled):
    # Python reads ℯ as e and ϖ as π (NFKC); neither may turn into a constant unnoticed
    with pytest.raises(ExpressionError, match=f"name '{spelled}' would be read as") as info:
        parse(text)
    assert info.value.column == 0


# --- the printed functions -------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("sign(x)", sympy.sign(x)),
    ("Heaviside(x)", sympy.Heaviside(x)),
    ("Heaviside(x, 0)", sympy.Heaviside(x, 0)),
    ("Heaviside(x, 1/2)", sympy.Heaviside(x)),
    ("DiracDelta(x)", sympy.DiracDelta(x)),
    ("DiracDelta(x, 2)", sympy.DiracDelta(x, 2)),
    ("Max(x, w, 1)", sympy.Max(x, w, 1)),
    ("Min(x, w)", sympy.Min(x, w)),
    ("Abs(x)", sympy.Abs(x)),
    ("Heaviside(2)", sympy.Integer(1)),
    ("DiracDelta(3, 1)", sympy.Integer(0)),
])
def test_printed_functions_parse(text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize("text, fragment, column", [
    ("Heaviside(x, w)", "second argument of Heaviside", 13),
    ("DiracDelta(x, 1.5)", "non-negative integer", 14),
    ("DiracDelta(x, -1)", "non-negative integer", 14),
    ("DiracDelta(0)", "undefined", 0),
    ("2*DiracDelta(x - x)", "undefined", 2),
    ("Max(x)", "Max takes at least 2 arguments, got 1", 0),
    ("Min(" + ", ".join(f"x{i}" for i in range(11)) + ")", "Min takes at most 10 arguments", 0),
    ("Heaviside(x, 0, 1)", "Heaviside takes at most 2 arguments, got 3", 0),
    ("heaviside(x)", "did you mean 'Heaviside'", 0),
])
def test_printed_functions_are_checked(text, fragment, column):
    with pytest.raises(ExpressionError) as info:
        parse(text)
    assert fragment in info.value.message
    assert info.value.column == column
