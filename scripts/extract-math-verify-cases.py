#!/usr/bin/env python3
"""Extracts the parametrized gold/pred cases of Math-Verify's tests into JSON test data.

Usage: python3 scripts/extract-math-verify-cases.py <Math-Verify git dir> > src/learner/rewards/conformance/math-verify-cases.json

Reads each file with `git show HEAD:<path>` and Python's `ast` (nothing of Math-Verify is imported or
copied besides the case literals). Each case keeps the test function it came from (its category) and the options
that function passes to `compare_strings` (match_types, precision, allow_set_relation_comp).
"""
import ast
import json
import subprocess
import sys

git_dir = sys.argv[1]
# test_all.py is the conformance target; the others are the regression files added for specific reports.
PATHS = [
    "tests/test_all.py",
    "tests/test_numina_cases.py",
    "tests/test_open_thoughts.py",
    "tests/test_yujianll.py",
    "tests/test_boxed.py",
    "tests/test_strict.py",
]
commit = subprocess.check_output(["git", "-C", git_dir, "rev-parse", "HEAD"], text=True).strip()


def call_options(fn):
    """The keyword arguments of the compare_strings call in a test function body ({} for verify(parse, parse))."""
    for node in ast.walk(fn):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "verify":
            return {}
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "compare_strings":
            opts = {}
            for kw in node.keywords:
                try:
                    opts[kw.arg] = ast.literal_eval(kw.value)
                except ValueError:
                    opts[kw.arg] = {"param": ast.unparse(kw.value)}
            return opts
    return None


def cases_of(path):
    source = subprocess.check_output(["git", "-C", git_dir, "show", f"HEAD:{path}"], text=True)
    for fn in ast.parse(source).body:
        opts = call_options(fn) if isinstance(fn, ast.FunctionDef) else None
        if opts is None:
            continue
        for dec in fn.decorator_list:
            if not (isinstance(dec, ast.Call) and ast.unparse(dec.func) == "pytest.mark.parametrize"):
                continue
            names = [n.strip() for n in ast.literal_eval(dec.args[0]).split(",")]
            for i, row in enumerate(dec.args[1].elts):
                try:
                    values = ast.literal_eval(row)
                except ValueError:
                    # f-strings (test_float_precision) are evaluated the way pytest would.
                    values = eval(compile(ast.Expression(row), path, "eval"), {"math": __import__("math")})
                case = dict(zip(names, values))
                resolved = {k: case[v["param"]] if isinstance(v, dict) else v for k, v in opts.items()}
                entry = {
                    "id": f"{path.removeprefix('tests/').removesuffix('.py')}::{fn.name}[{i}]",
                    "file": path,
                    "category": fn.name.removeprefix("test_"),
                    "line": row.lineno,
                    "gold": case["gold"],
                    "pred": case["pred"],
                    "expected": bool(case["expected"] if "expected" in case else case["result"]),
                    "match_types": resolved.get("match_types", ["latex", "expr"]),
                }
                for key in ("precision", "strict", "allow_set_relation_comp"):
                    if key in resolved:
                        entry[key] = resolved[key]
                yield entry


cases = [case for path in PATHS for case in cases_of(path)]

out = {
    "source": {
        "repository": "https://github.com/huggingface/Math-Verify",
        "commit": commit,
        "paths": PATHS,
        "version": "0.8.0 (pyproject.toml at this commit; no 0.9.0 tag or commit is public in the snapshot used)",
        "licence": "Apache-2.0 (repository LICENCE); the file's header carries the MIT notice "
        "'Copyright (c) 2024 The HuggingFace Team'. See NOTICE.md beside this file.",
        "extracted_by": "scripts/extract-math-verify-cases.py",
    },
    "cases": cases,
}
json.dump(out, sys.stdout, indent=1, ensure_ascii=False)
sys.stdout.write("\n")
