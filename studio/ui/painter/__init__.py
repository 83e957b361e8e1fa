"""The painter: mask tools and motion brushes drawn over a node's keyframe."""

# The node types the painter edits (the inspector offers it, double-click opens it).
PAINTABLE = ("RegionMask", "MotionBrush")
