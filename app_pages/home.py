"""Home: what nnviz is, the device, the data and checkpoints present, the runs."""
import streamlit as st

from nnviz.analysis import overview
from nnviz.ui.sidebar import device_label, threads_note

st.title(":material/neurology: nnviz — watch neural networks learn")
st.markdown(
    "Train small networks live and **see** what they learn: loss curves as they fall, the fitted "
    "curve of a regression, confusion matrices, conv filters, feature maps, attributions, and your own "
    "drawing classified. Everything works offline on the embedded sets (real MNIST and Fashion-MNIST samples, "
    "scikit-learn's `digits`) and synthetic data."
)

cols = st.columns(3)
cols[0].metric("Device", device_label(), help=threads_note(why=True) or None)
datasets = overview.dataset_rows()
cols[1].metric("Datasets present", f"{sum(r['present'] for r in datasets)} of {len(datasets)}")
ckpts = overview.checkpoint_rows()
cols[2].metric("Checkpoints", len(ckpts))

st.subheader("Start here")
links = st.columns(2)  # two wide columns: a link label is never cut
links[0].page_link("app_pages/regression.py", label="Regression lab: fit a noisy 1-D function", icon=":material/show_chart:")
links[1].page_link("app_pages/classification.py", label="Classification lab: image classifiers", icon=":material/grid_view:")
links[0].page_link("app_pages/draw.py", label="Draw a digit and see it classified", icon=":material/draw:")
links[1].page_link("app_pages/lessons.py", label="Lessons: the course's experiments, one click each",
                   icon=":material/school:")

st.subheader("Datasets")
st.dataframe(datasets, hide_index=True, width="stretch",
             column_config={"present": st.column_config.CheckboxColumn("present")})
st.caption("Missing sets: `python -m nnviz download NAME` on a machine with internet, or set `NNVIZ_DATA_DIR`.")

st.subheader("Checkpoints")
if ckpts:
    st.dataframe(ckpts, hide_index=True, width="stretch")
else:
    st.info("No checkpoints yet. Train a model in a lab and save it.")
skipped = overview.unreadable_checkpoints()
if skipped:
    st.warning(f"{len(skipped)} file(s) in the checkpoint folders cannot be used and are skipped everywhere:",
               icon=":material/warning:")
    st.dataframe(skipped, hide_index=True, width="stretch", key="home_unreadable")

st.subheader("Runs")
run_rows = overview.run_rows()
if run_rows:
    st.dataframe(run_rows, hide_index=True, width="stretch")
else:
    st.info("No runs yet. Start one in the Regression or Classification lab, or with `python -m nnviz train`.")
