"""The painter: mask tools and motion brushes drawn over a node's keyframe."""
