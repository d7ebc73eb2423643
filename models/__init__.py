"""Executable reference models: specifications small enough to be obviously right."""

from kvcheck.models.reference import ReferenceKV

__all__ = ["ReferenceKV"]
