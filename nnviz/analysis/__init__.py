"""Reading trained models and runs: metrics, diagnostics, inspection, attributions, reports."""
