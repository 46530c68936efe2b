"""nnviz as a package: importing it changes nothing process-wide, the CLI answers --help without torch, and
the entry points (the CLI, streamlit_app.py) set the OpenMP spin count before torch loads."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nnviz import process

REPO = Path(__file__).resolve().parents[2]

# Runs a snippet, then prints what it saw as JSON: whether torch got imported, and GOMP_SPINCOUNT at the moment
# torch's import began (an audit hook on Python's "import" event).
_PROBE = """
import json, os, sys
seen = {}
def hook(event, args):
    if event == "import" and args[0] == "torch" and "torch" not in seen:
        seen["torch"] = os.environ.get("GOMP_SPINCOUNT")
sys.addaudithook(hook)
before = dict(os.environ)
try:
    exec(sys.argv[1])
except SystemExit:
    pass
print(json.dumps({"torch_imported": "torch" in sys.modules, "spin_at_torch_import": seen.get("torch"),
                  "environ_changed": dict(os.environ) != before}))
"""


def probe(code: str, **env: str) -> dict:
    base = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    result = subprocess.run([sys.executable, "-c", _PROBE, code], cwd=REPO, capture_output=True, text=True,
                            timeout=240, env={**base, "PYTHONPATH": str(REPO), **env})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_importing_nnviz_leaves_the_environment_unchanged():
    seen = probe("import nnviz, nnviz.config")
    assert seen == {"torch_imported": False, "spin_at_torch_import": None, "environ_changed": False}


@pytest.mark.parametrize("argv", [["--help"], ["trian"], []])
def test_cli_help_and_usage_errors_do_not_import_torch(argv):
    seen = probe(f"from nnviz import cli; cli.main({argv!r})")
    assert not seen["torch_imported"]


def test_python_m_nnviz_help_lists_every_command():
    result = subprocess.run([sys.executable, "-m", "nnviz", "--help"], cwd=REPO, capture_output=True, text=True,
                            timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    for command in ("train", "eval", "download", "sweep"):
        assert command in result.stdout


def test_a_command_help_still_shows_its_arguments(capsys):
    from nnviz import cli

    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    out = capsys.readouterr().out
    assert "--dataset" in out and "fast_cnn" in out and "adamw" in out


@pytest.mark.parametrize("entry", [
    "from nnviz import cli; cli.main(['eval', 'absent.pt'])",  # a command that loads torch, then fails cleanly
    "import runpy; runpy.run_path('streamlit_app.py')",
])
def test_entry_points_set_the_spin_count_before_torch_loads(entry):
    seen = probe(entry)
    assert seen["torch_imported"] and seen["spin_at_torch_import"] == "10000"


def test_a_users_own_openmp_settings_win(monkeypatch):
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    process.configure()
    assert "GOMP_SPINCOUNT" not in os.environ
    monkeypatch.delenv("OMP_WAIT_POLICY")
    monkeypatch.setenv("GOMP_SPINCOUNT", "500")
    process.configure()
    assert os.environ["GOMP_SPINCOUNT"] == "500"


def test_every_module_keeps_its_short_name_and_importing_nnviz_loads_none_of_them():
    import importlib
    import pkgutil

    import nnviz

    seen = probe("import nnviz; import sys; assert not [m for m in sys.modules if m.startswith('nnviz.')]")
    assert not seen["torch_imported"]
    grouped = {info.name for group in ("model", "training", "jobs", "analysis", "teaching")
               for info in pkgutil.iter_modules([str(REPO / "nnviz" / group)])}
    assert {"runs", "train", "models", "lessons", "explain"} <= grouped
    for name in sorted(grouped - {"background"}):  # background: the subpackage nnviz.jobs owns that short name
        module = getattr(nnviz, name)
        assert module is importlib.import_module(module.__name__) and module.__name__.endswith("." + name)
    from nnviz import preprocess, runs  # the form users and notebooks write
    assert (runs.__name__, preprocess.__name__) == ("nnviz.jobs.runs", "nnviz.data.preprocess")
    with pytest.raises(AttributeError, match="no_such_module"):
        nnviz.no_such_module  # noqa: B018
