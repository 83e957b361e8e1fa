"""The workflow model: node specs, typed ports, params, edges, validation and the file format.

Pure Python. Nothing under ``studio.graph`` may import Qt (a test enforces it).
"""

from studio.graph.graph import Edge, Graph, GraphError, Node
from studio.graph.registry import NodeRegistry
from studio.graph.spec import NodeSpec, Param, ParamKind, Port, RunContext
from studio.graph.types import CameraMove, CameraPath, Motion, MotionBrushValue, PortType, Video

__all__ = [
    "CameraMove",
    "CameraPath",
    "Edge",
    "Graph",
    "GraphError",
    "Motion",
    "MotionBrushValue",
    "Node",
    "NodeRegistry",
    "NodeSpec",
    "Param",
    "ParamKind",
    "Port",
    "PortType",
    "RunContext",
    "Video",
]
