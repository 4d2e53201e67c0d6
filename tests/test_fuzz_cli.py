"""Fuzzing the command line: a mutated scenario or strategy file, or a mangled --set,
ends in success or in exit code 2 with a `file: field: problem` message, never in a
traceback or another exit code.

Most cases call the typer app in-process (CliRunner); a handful go through a real
`python -m sim.cli` subprocess, where a traceback would actually reach the user.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from sim.cli import app
from sim.config import SCENARIO_DIR, load_scenario, valid_paths
from tests.fuzzing import SCENARIO_DOCS, STRATEGY_DOCS, TINY, mutated, to_toml

VALIDATE_EXAMPLES = 200  # mutated files through `validate`
SET_EXAMPLES = 150  # mangled --set values through `validate --set`
RUN_EXAMPLES = 20  # mutated scenario files through `run` (tiny), and as many strategy files
SUBPROCESS_CASES = 8  # real shells: see NASTY below

SETTINGS = settings(deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])
TINY_SETS = [a for path, value in TINY for a in ("--set", f"{path}={value}")]
BASELINE = SCENARIO_DIR / "baseline.toml"


def invoke(*args: str | Path):
    return CliRunner().invoke(app, [str(a) for a in args])


def check_outcome(r, file: Path | None = None) -> str:
    """Exit 0, or exit 2 with one message per problem naming the file; never a crash."""
    out = r.output
    assert "Traceback" not in out, out
    if r.exit_code == 0:
        return "ok"
    assert r.exit_code == 2, (r.exit_code, out, r.exception)
    assert isinstance(r.exception, SystemExit), r.exception  # typer.Exit, not a crash
    assert "error" in out, out
    if file is not None:
        assert f"{file}: " in " ".join(out.split()), out
    return "refused"


def write(tmp: Path, name: str, doc: dict) -> Path:
    f = tmp / name
    f.write_text(to_toml(doc), encoding="utf-8")
    return f


@settings(SETTINGS, max_examples=VALIDATE_EXAMPLES)
@given(doc=st.one_of(mutated(SCENARIO_DOCS), mutated(STRATEGY_DOCS)))
def test_validate_mutated_files(tmp_path_factory, doc):
    tmp = tmp_path_factory.mktemp("v")
    # a file under strategies/ is read as a strategy, anything else by its keys
    f = write(tmp, "doc.toml", doc)
    check_outcome(invoke("validate", f), f)


@settings(SETTINGS, max_examples=SET_EXAMPLES)
@given(path=st.one_of(st.sampled_from(valid_paths(load_scenario("baseline"))),
                      st.text(max_size=30)),
       value=st.one_of(st.text(max_size=30),
                       st.sampled_from(["1e999", "nan", "-inf", "[[[[[[1]]]]]]", "{a=1}",
                                        "10000000000000000000000000", "-1", "0", "true",
                                        '"us_reg_f"', "[]", "{}", "2025-02-30", "24:00:00",
                                        "=", "'", '"', "[" * 2000])))
def test_validate_with_mangled_set(path, value):
    check_outcome(invoke("validate", BASELINE, "--set", f"{path}={value}"))


@settings(SETTINGS, max_examples=RUN_EXAMPLES)
@given(doc=mutated(SCENARIO_DOCS, max_mutations=1))
def test_run_mutated_scenario_files(tmp_path_factory, doc):
    tmp = tmp_path_factory.mktemp("r")
    f = write(tmp, "scenario.toml", doc)
    r = invoke("run", f, "--strategy", "no_action", *TINY_SETS, "--json")
    check_outcome(r, f if r.exit_code else None)


@settings(SETTINGS, max_examples=RUN_EXAMPLES)
@given(doc=mutated(STRATEGY_DOCS, max_mutations=1))
def test_run_mutated_strategy_files(tmp_path_factory, doc):
    tmp = tmp_path_factory.mktemp("s")
    f = write(tmp, "strategy.toml", doc)
    r = invoke("run", "baseline", "--strategy", f, *TINY_SETS, "--json")
    check_outcome(r)


def _deep(n: int) -> str:
    return 'name = "x"\n[product]\nterms = ' + "[" * n + "]" * n + "\n"


# (file content or None for a directory, the command, words the message must contain)
NASTY = {
    "deeply nested arrays": (_deep(5000), "validate", "nested too deeply"),
    "not UTF-8": (b"name = \"\xff\xfe\"\n", "validate", "cannot read the file"),
    "binary junk": (bytes(range(256)) * 4, "run", "cannot read the file"),
    "a directory": (None, "validate", "cannot read the file"),
    "TOML syntax": ("name = \n", "run", "not valid TOML"),
    "NaN and a huge number": ('name = "x"\n[economy]\nshock_multiplier = nan\n'
                              '[population]\naccounts = 100000000000000000000000000\n',
                              "run", "population.accounts"),
    "a key with a newline": ('name = "x"\n[population]\n"acc\\nounts" = 5\n', "validate",
                             'population."acc\\nounts": unknown key'),
    "shift outside the window": ('name = "x"\n[compliance]\nprofile = "us_reg_f"\n'
                                 '[collectors.teams.early]\nbuckets = ["M1"]\n'
                                 "shifts = [{start_hour = 13, end_hour = 22, headcount = 1}]\n",
                                 "run", "outside the legal contact window of us_reg_f"),
}
assert len(NASTY) == SUBPROCESS_CASES


@pytest.mark.parametrize("case", sorted(NASTY))
def test_nasty_files_in_a_real_shell(tmp_path, case):
    content, command, words = NASTY[case]
    f = tmp_path / "nasty.toml"
    if content is None:
        f.mkdir()
    elif isinstance(content, bytes):
        f.write_bytes(content)
    else:
        f.write_text(content, encoding="utf-8")
    args = ["validate", str(f)] if command == "validate" else ["run", str(f), *TINY_SETS]
    p = subprocess.run([sys.executable, "-m", "sim.cli", *args], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    assert "Traceback" not in p.stderr + p.stdout
    text = " ".join(p.stderr.split())
    assert f"{f}: " in text and words in text, text


def test_duplicate_strategy_names_are_a_message_not_a_traceback(tmp_path):
    twin = tmp_path / "twin.toml"
    twin.write_text('name = "seed_playbook"\ndescription = "another file, the same name"\n')
    for names in ("seed_playbook,seed_playbook", f"seed_playbook,{twin}"):
        r = invoke("compare", "baseline", "--strategies", names, *TINY_SETS)
        check_outcome(r, Path("--strategies"))
        assert r.exit_code == 2 and "both named 'seed_playbook'" in r.output, r.output
