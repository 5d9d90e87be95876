"""farmcore: the shared engine of the greenhouse and tank controllers.

It knows Modbus, recipes, control and time series, and nothing about any crop or fish.
"""

__version__ = "0.1.0"
