"""The viewer: frame-by-frame output, timeline, A/B compare and Stabilize's plots."""
