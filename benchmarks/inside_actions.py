"""How fast "Inside the network" answers, per action, on the shipped 28×28 digits CNN (a script, not a test).

    .venv/bin/python benchmarks/inside_actions.py            # library timings + AppTest reruns
    .venv/bin/python benchmarks/inside_actions.py --quick    # fewer repeats

Part 1 (library): for every page action, the work the page does on the server, uncached
(the worst case: the first time a model / image / layer is shown): nnviz.analysis.inspect /
nnviz.analysis.embedding calls + the plotly figure build + `plotly.io.to_json` (what
st.plotly_chart does to send a figure). Median and worst of several repeats.

Part 2 (AppTest): the same actions through the real page script (`AppTest` reruns, in
process, with Streamlit's caches as in real use), timed from widget change to the end of
the rerun. This includes Streamlit's own script overhead.

t-SNE of the penultimate layer is reported on its own (it runs behind a button).
Reference: one forward pass of 256 test images through the same CNN, measured in the same
run; every timing is also printed as a ratio to it, since these machines are shared and noisy.
Target: every ordinary action < 300 ms.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nnviz import process  # noqa: E402

process.configure()  # as the CLI and the dashboard do, before torch loads
TARGET_MS = 300.0


def _time(fn, repeats: int) -> tuple[float, float, float]:
    """(median, best, CPU-time median) milliseconds of fn() over `repeats` calls, after one warm-up.

    The best of several runs is the usual estimate of the cost without other processes'
    interference (timeit's rule); the median shows what a busy machine gives.
    """
    fn()
    times, cpu = [], []
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return statistics.median(times), min(times), statistics.median(cpu)


def _tiny_run(root: str) -> Path:
    """A 3-epoch digits run with per-epoch weight snapshots (for the weights-over-epochs action)."""
    from nnviz.config import DataConfig, RunConfig, replace
    from nnviz.jobs import runs
    from nnviz.model.models import PRESETS

    preset = PRESETS["fast_cnn"]
    cfg = RunConfig(data=DataConfig(dataset="digits"), model=preset.model,
                    train=replace(preset.train, epochs=5, max_steps=5, snapshot_every=1), preset="fast_cnn")
    run = runs.start(cfg, root)
    run.wait(300)
    return run.dir / "final.pt"


def library(repeats: int) -> tuple[list[tuple[str, float, float, float]], float, float, int]:
    import plotly.io as pio
    import torch

    from nnviz.analysis import embedding, inspect
    from nnviz.data import load
    from nnviz.figures import maps, weights
    from nnviz.jobs.run_folder import RunFolder
    from nnviz.model import checkpoints
    from nnviz.model.models import summarize
    from nnviz.training.train import predict

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    ckpt = checkpoints.load(checkpoints.SHIPPED_DIR / "digits_cnn.pt")
    model = ckpt.model()
    mlp_ckpt = checkpoints.load(checkpoints.SHIPPED_DIR / "digits_mlp.pt")
    mlp = mlp_ckpt.model()
    data = load(ckpt.config.data)
    x = data.x_test
    send = lambda fig: pio.to_json(fig, validate=False)  # noqa: E731 - what st.plotly_chart does

    def feature_maps(indices, names, compare=False):
        got = inspect.feature_maps(model, x[indices], names)
        for name in names:
            out = got[name]
            if out.ndim == 4:
                send(maps.feature_map_grids(list(out), ["a", "b"][:len(out)], channels=range(min(out.shape[1], 64)),
                                            title=name))
            else:
                send(maps.activation_vector(out.reshape(len(out), -1), title=name))

    tmp = tempfile.mkdtemp(prefix="nnviz-bench-")
    final = _tiny_run(tmp)
    epoch_files = RunFolder(Path(final).parent).epoch_files()
    feats = embedding.activations(model, x)
    actions = {
        "architecture table (summarize + layers)": lambda: (summarize(model, ckpt.input_shape),
                                                            inspect.layers(model, ckpt.input_shape)),
        "filters conv1 (16 × 3×3)": lambda: send(maps.filter_grid(inspect.conv_filters(model, "conv1"), 0)),
        "filters conv2, filters × input channels": lambda: send(maps.filter_grid(
            inspect.conv_filters(model, "conv2"), "all")),
        "filters conv3, one input channel, per-filter scale": lambda: send(maps.filter_grid(
            inspect.conv_filters(model, "conv3"), 3, per_filter_scale=True)),
        "feature maps, new image (act1, act2, act3)": lambda: feature_maps([7], ["act1", "act2", "act3"]),
        "feature maps, two images side by side": lambda: feature_maps([7, 8], ["act1", "act2", "act3"]),
        "feature maps conv1+pool1 + dense 'out'": lambda: feature_maps([9], ["conv1", "pool1", "out"]),
        "top-5 of the test set (picker, per model)": lambda: torch.softmax(predict(model, x), 1),
        "weight & bias histograms": lambda: send(weights.weight_histograms(inspect.layer_parameters(model))),
        "activation statistics (256 images) + figure": lambda: send(weights.activation_stats_figure(
            inspect.activation_stats(model, x[:256]))),
        "weights over epochs: read run + ridge": lambda: send(weights.weights_over_epochs(
            *(lambda h: (h.epochs, h.edges, h.counts))(inspect.weight_history(epoch_files)["conv2.weight"]), "ridge")),
        "weights over epochs: heatmap": lambda: send(weights.weights_over_epochs(
            *(lambda h: (h.epochs, h.edges, h.counts))(inspect.weight_history(epoch_files)["conv2.weight"]), "heatmap")),
        "embedding: penultimate activations + PCA + scatter": lambda: send(maps.embedding_scatter(
            embedding.project(embedding.activations(model, x), "pca").coords, data.y_test.numpy(),
            range(len(x)), ckpt.classes)),
        "MLP first layer as images (64 units)": lambda: send(weights.first_layer_images(
            inspect.first_layer_images(mlp, mlp_ckpt.input_shape))),
    }
    rows = [(label, *_time(fn, repeats)) for label, fn in actions.items()]
    with torch.no_grad():
        ref, _, _ = _time(lambda: model(x[:256]), repeats)
    started = time.perf_counter()
    embedding.project(feats, "tsne")
    tsne_s = time.perf_counter() - started
    assert inspect.count_hooks(model) == 0 and inspect.count_hooks(mlp) == 0
    return rows, ref, tsne_s, len(feats)


def apptest(repeats: int) -> list[tuple[str, float, float, float]]:
    from streamlit.testing.v1 import AppTest

    from nnviz.jobs import runs

    tmp = tempfile.mkdtemp(prefix="nnviz-bench-app-")
    os.environ.update(NNVIZ_RUNS_DIR=f"{tmp}/runs", NNVIZ_CHECKPOINT_DIR=f"{tmp}/ckpt", NNVIZ_DATA_DIR=f"{tmp}/data")
    app = str(ROOT / "dashboard.py")
    at = AppTest.from_file(app, default_timeout=300)
    at.run()
    at.switch_page("app_pages/inside.py").run()

    def tab(name):
        return lambda: at.session_state.__setitem__("inside_tab", name)

    steps = [
        ("open the Filters tab", tab("Filters")),
        ("filter layer conv2", lambda: at.selectbox(key="inside_filter_layer").select("conv2")),
        ("filter layer conv1", lambda: at.selectbox(key="inside_filter_layer").select("conv1")),
        ("filters per-filter scale", lambda: at.radio(key="inside_filter_scale").set_value("per filter")),
        ("filters shared scale", lambda: at.radio(key="inside_filter_scale").set_value("shared")),
        ("open the Feature maps tab", tab("Feature maps")),
        ("image mode: by class", lambda: at.selectbox(key="inside_img_mode").select("class")),
        ("class 3", lambda: at.selectbox(key="inside_img_cls").select(3)),
        ("class 5", lambda: at.selectbox(key="inside_img_cls").select(5)),
        ("compare two images", lambda: at.toggle(key="inside_fm_compare").set_value(True)),
        ("layers conv1, pool1, out", lambda: at.multiselect(key="inside_fm_layers").set_value(
            ["conv1", "pool1", "out"])),
        ("strongest channels first", lambda: at.radio(key="inside_fm_order").set_value("strongest first")),
        ("compare off", lambda: at.toggle(key="inside_fm_compare").set_value(False)),
        ("open the Weights tab", tab("Weights & activations")),
        ("histograms incl. batch norm", lambda: at.multiselect(key="inside_w_layers").set_value(
            ["conv1", "bn1", "conv2", "bn2", "out"])),
        ("open the Embedding tab (PCA)", tab("Embedding")),
        ("back to Architecture", tab("Architecture")),
    ]
    results = {label: [] for label, _ in steps}
    for _ in range(repeats):
        for label, act in steps:
            act()
            started = time.perf_counter()
            at.run()
            results[label].append((time.perf_counter() - started) * 1000)
            if at.exception:
                raise RuntimeError(f"{label}: {at.exception}")
        at.session_state["inside_tab"] = "Feature maps"  # undo this pass's choices, so the next pass changes them
        at.run()
        at.radio(key="inside_fm_order").set_value("index")
        at.multiselect(key="inside_fm_layers").set_value(["act1", "act2", "act3"])
        at.selectbox(key="inside_img_cls").select(None)
        at.run()
        at.session_state["inside_tab"] = "Weights & activations"
        at.run()
        at.multiselect(key="inside_w_layers").set_value(["conv1", "conv2", "conv3", "out"])
        at.session_state["inside_tab"] = "Filters"
        at.run()
    runs.stop_all()
    # the first pass fills the caches (uncached cost); later passes are what a lecture sees
    return [(label, ts[0], statistics.median(ts[1:] or ts), min(ts[1:] or ts)) for label, ts in results.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats instead of 7")
    parser.add_argument("--no-app", action="store_true", help="library timings only")
    args = parser.parse_args()
    repeats = 3 if args.quick else 7
    print(f"CPU threads: {os.cpu_count()}  load average: {os.getloadavg()[0]:.2f}  repeats: {repeats}\n")
    rows, ref, tsne_s, n_points = library(repeats)
    print(f"Reference: forward pass of 256 test images = {ref:.1f} ms\n")
    print("Part 1 - library work per action (compute + figure + JSON), uncached")
    print(f"  {'action':55s} {'median':>9s} {'best':>9s} {'CPU':>9s} {'× ref':>6s}")
    for label, med, best, cpu in rows:
        print(f"  {label:55s} {med:7.1f}ms {best:7.1f}ms {cpu:7.1f}ms {med / ref:6.2f}")
    for col, name in ((1, "median"), (2, "best")):
        slowest = max(rows, key=lambda r: r[col])
        print(f"  slowest {name}: {slowest[col]:.1f} ms ({slowest[0]}) -> "
              f"{'OK' if slowest[col] < TARGET_MS else 'OVER'} the {TARGET_MS:.0f} ms target")
    print(f"\nt-SNE of the penultimate layer ({n_points} test images, on demand): {tsne_s:.2f} s "
          f"({tsne_s * 1000 / ref:.0f} × ref)")
    if args.no_app:
        return
    print("\nPart 2 - AppTest rerun per UI action (first = caches cold; then median of later passes)")
    app_rows = apptest(max(3, repeats // 2))
    print(f"  {'action':55s} {'first':>9s} {'median':>9s} {'best':>9s} {'× ref':>6s}")
    for label, first, med, best in app_rows:
        print(f"  {label:55s} {first:7.1f}ms {med:7.1f}ms {best:7.1f}ms {med / ref:6.2f}")
    for col, name in ((2, "median"), (3, "best")):
        worst = max(app_rows, key=lambda r: r[col])
        print(f"  slowest {name} rerun: {worst[col]:.1f} ms ({worst[0]}) -> "
              f"{'OK' if worst[col] < TARGET_MS else 'OVER'} the {TARGET_MS:.0f} ms target")
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
