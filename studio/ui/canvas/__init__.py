"""The node canvas: a QGraphicsScene that mirrors a Graph, and the view that navigates it."""
