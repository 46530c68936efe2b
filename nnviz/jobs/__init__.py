"""Background jobs and what they leave on disk: runs, sweeps, searches, run folders, storage."""
