"""Plotly figure builders: data in, `go.Figure` out, no side effects. One module per concern."""
