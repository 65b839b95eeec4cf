"""Solver back ends, one module per method, each registered under a stable lowercase name.

Modules here are discovered and imported by :func:`mapopt.registry.load_plugins`.
"""
