"""Studio: a node-graph editor for directing AI video."""

__version__ = "0.1.0"
