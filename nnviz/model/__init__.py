"""The network: model presets and builders, seeded dropout, parameter counts, code export, checkpoints."""
