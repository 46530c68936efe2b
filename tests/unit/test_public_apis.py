"""nnviz uses torch, Streamlit, Optuna and the other libraries through their public APIs only: an
upgrade must not break it silently. Every access to a private name (`x._name`) of a library module,
or of an object those libraries own, is listed here with its reason, or it fails this test."""
from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SOURCES = ["nnviz", "app_pages", "benchmarks", "scripts", "dashboard.py", "streamlit_app.py"]
LIBRARIES = {"torch", "nn", "F", "optuna", "st", "streamlit", "np", "numpy", "captum", "go", "px", "pd", "pandas",
             "sklearn", "PIL", "Image", "plotly", "scipy", "sqlalchemy", "tornado", "starlette", "psycopg2"}
# private attributes of objects the libraries hand out (studies, trials, storages, semaphores, modules)
PRIVATE_OF_LIBRARY_OBJECTS = {"_storage", "_heartbeat", "_trial_id", "_study_id", "_value", "_forward_hooks",
                              "_forward_pre_hooks", "_backward_hooks", "_modules", "_parameters", "_buffers",
                              "_slots", "_foreach_norm", "_fused_adam_", "_fused_adamw_", "_cache"}

# (file, attribute): why there is no public way. Keep this list short.
ALLOWED = {
    ("nnviz/analysis/inspect.py", "_forward_hooks"): "count_hooks: tests prove a capture leaves no hook behind; "
                                            "torch has no public listing of a module's hooks",
    ("nnviz/analysis/inspect.py", "_forward_pre_hooks"): "the same, for pre-hooks",
}


def _root(node: ast.expr) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Call, ast.Subscript)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def private_uses(root: Path = REPO) -> list[tuple[str, int, str]]:
    """(file, line, attribute) of every private library name used in the project's sources under `root`."""
    found = []
    files = [p for s in SOURCES for p in ((root / s).rglob("*.py") if (root / s).is_dir() else [root / s])
             if p.is_file()]
    for path in files:
        rel = path.relative_to(root).as_posix()
        for node in ast.walk(ast.parse(path.read_text(), filename=rel)):
            if not isinstance(node, ast.Attribute):
                continue
            name = node.attr
            if not name.startswith("_") or name.startswith("__"):
                continue
            base = _root(node.value)
            own = isinstance(node.value, ast.Name) and base in ("self", "cls")  # the class's own attribute
            if base in LIBRARIES or (name in PRIVATE_OF_LIBRARY_OBJECTS and not own):
                found.append((rel, node.lineno, name))
    return found


def test_no_private_library_api_outside_the_allow_list():
    unexplained = [f"{f}:{line}: .{name}" for f, line, name in private_uses() if (f, name) not in ALLOWED]
    assert not unexplained, "private library APIs (use a public one, or justify it in ALLOWED):\n" + \
        "\n".join(unexplained)


def test_the_allow_list_has_no_stale_entries():
    used = {(f, name) for f, _, name in private_uses()}
    assert set(ALLOWED) <= used, f"allowed but no longer used: {set(ALLOWED) - used}"


def test_the_check_sees_what_it_must_refuse(tmp_path):
    (tmp_path / "nnviz").mkdir()
    (tmp_path / "nnviz" / "x.py").write_text("import torch\n"
                                             "torch._fused_adam_(a)\n"
                                             "study._storage.get(trial._trial_id)\n"
                                             "ok = self._private + torch.optim.Adam + st.session_state\n"
                                             "n = torch.ops.mkldnn._is_mkldnn_bf16_supported()\n")
    assert sorted(name for _, _, name in private_uses(tmp_path)) == [
        "_fused_adam_", "_is_mkldnn_bf16_supported", "_storage", "_trial_id"]
