"""Checks that need no model: a filing's statements tie out."""
