"""The Playground: a tiny network learning to separate 2-D points, with every neuron's map of the plane.

    data      the point sets (circle, XOR, Gaussian blobs, spiral, two moons; an uploaded CSV), split
    config    PlaygroundConfig: every setting, validated, and its round trip through a URL's query
    network   input features, the network, deterministic training steps, numpy maps over a grid
    job       PlaygroundJob: one network training in the background, paused, stepped, reset, replayed
    export    the network as stand-alone PyTorch code; checkpoints saved and loaded

No Streamlit here: the page (app_pages/playground.py) and its feed (nnviz.ui.playground_feed) call these.
"""
