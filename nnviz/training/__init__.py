"""Training: the fit loop, its thread policy, slow motion (tempo), K-fold cross-validation, resource limits, baselines."""
