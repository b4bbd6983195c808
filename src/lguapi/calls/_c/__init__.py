"""Compiled twins of the call tracker's hot modules, built by ``setup.py`` from the same sources.

Empty in a source checkout until ``make build``; :mod:`lguapi.calls._twin` picks them when present.
"""
