"""The Qt editor. It only observes the model (studio.graph) and the engine (studio.engine):
edits go through the undo stack as model commands, and views redraw from model events."""
