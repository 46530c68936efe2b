"""Training: the fit loop, its thread policy, K-fold cross-validation, resource limits, baselines."""
