"""Shipped DGA families: one module each, defining FAMILY."""
