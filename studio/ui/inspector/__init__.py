"""The inspector: param widgets generated from node specs."""
