"""Explain: Captum attributions for chosen test images — which pixels made the network decide?"""
import streamlit as st

from nnviz.ui import explain_panels as ep
from nnviz.ui import layout
from nnviz.ui.pickers import image_picker, model_picker, show_images

layout.header("Explain a prediction", "Attribution maps colour every pixel by how much it pushed the network "
              "towards (red) or away from (blue) a class. Different methods answer slightly different questions — "
              "compare them, change the target, and check that they really depend on what the network learned.")

# Model, image count and images in one row, so the first map is in the first screen of a projector;
# the chosen image and its top-5 prediction come after the maps.
model_col, count_col, images_col = st.columns([3, 1.3, 3], vertical_alignment="bottom")
with model_col:
    picked = model_picker(key="explain_model")
if picked.checkpoint.task != "classification" or len(picked.checkpoint.input_shape) != 3:
    st.warning("Attribution maps need an image classifier. Pick a CNN or MLP trained on an image set.")
    st.stop()
with count_col:
    n_images = ep.image_count()
with images_col:
    images = image_picker(picked, n=n_images, key="explain_images", show=False)

with st.sidebar:  # the controls stay in view while the figures scroll
    st.header("Attribution")
    method, params = ep.method_panel(picked.model)
    targets = ep.target_panel(picked, images)
    display = ep.display_panel()

view = ep.view_selector()
if view == "single":
    ep.show_single(picked, images, method, params, targets, display)
elif view == "compare":
    ep.show_compare(picked, images, targets, display)
elif view == "targets":
    ep.show_targets(picked, images, method, params, display)
elif view == "epochs":
    ep.show_epochs(picked, images, method, params, targets, display)
else:
    ep.show_sanity(picked, images, method, params, targets, display)

st.divider()
show_images(images, picked.checkpoint.classes)
