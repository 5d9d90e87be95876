"""Modbus field bus: codec, register-map profiles, buses, poll plans, nodes and the frame log."""
