"""Lessons: guided multi-step experiments for a class."""
