"""The project's code-shape bar, measured rather than remembered: no function or method of
product code above cyclomatic complexity 20 (radon's measure) or longer than 80 lines.

qtap_gitops/rulekit/ is exempt: it ports qpoint-io/rulekit's hand-written Go parser and lexer
function by function, so its shape follows upstream's.
"""

from __future__ import annotations

from pathlib import Path

from radon.visitors import Class, ComplexityVisitor, Function

ROOT = Path(__file__).resolve().parent.parent
MAX_COMPLEXITY = 20
MAX_LINES = 80
EXEMPT = (ROOT / "qtap_gitops" / "rulekit", ROOT / "tests", ROOT / ".venv")


def product_files() -> list[Path]:
    return sorted(
        path
        for path in ROOT.rglob("*.py")
        if not any(path.is_relative_to(exempt) for exempt in EXEMPT)
        and not any(part.startswith(".") for part in path.relative_to(ROOT).parts)
    )


def functions(blocks: list[Function] | list[Class]) -> list[Function]:
    """Every function and method below `blocks`, nested ones included (radon keeps a class's
    methods and inner classes, and a function's closures, under it)."""
    found: list[Function] = []
    for block in blocks:
        if isinstance(block, Class):
            found += functions(block.methods) + functions(block.inner_classes)
        else:
            found += [block, *functions(block.closures)]
    return found


def shape_violations(source: str, file: str) -> list[str]:
    """One line per function of `source` over either bound: file:line, name, CC, length."""
    out = []
    visitor = ComplexityVisitor.from_code(source)  # what radon.complexity.cc_visit walks
    for function in functions(visitor.functions) + functions(visitor.classes):
        length = function.endline - function.lineno + 1
        if function.complexity > MAX_COMPLEXITY or length > MAX_LINES:
            out.append(
                f"{file}:{function.lineno}: {function.fullname} has cyclomatic complexity "
                f"{function.complexity} (at most {MAX_COMPLEXITY}) and {length} lines "
                f"(at most {MAX_LINES})"
            )
    return out


def test_the_checker_sees_both_bounds() -> None:
    branches = "\n".join(f"    if x == {i}:\n        return {i}" for i in range(MAX_COMPLEXITY))
    complex_source = f"def branchy(x):\n{branches}\n    return -1\n"
    long_source = "def long():\n" + "    x = 1\n" * MAX_LINES + "    return x\n"
    fine_source = "class C:\n    def m(self):\n        return 1\n"
    assert shape_violations(complex_source, "a.py") == [
        "a.py:1: branchy has cyclomatic complexity 21 (at most 20) and 42 lines (at most 80)"
    ]
    assert shape_violations(long_source, "b.py") == [
        "b.py:1: long has cyclomatic complexity 1 (at most 20) and 82 lines (at most 80)"
    ]
    assert shape_violations(fine_source, "c.py") == []


def test_no_product_function_is_too_complex_or_too_long() -> None:
    files = product_files()
    assert ROOT / "qtap_gitops" / "yamlsource.py" in files  # the walk found the product code
    violations = [
        line
        for path in files
        for line in shape_violations(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    ]
    assert violations == [], "split these into functions with one job each:\n" + "\n".join(
        violations
    )
