"""Pure tank control strategies: each takes plain readings, setpoints and recipe tables and returns targets
with the reason, so `aquactl.controller.TankController` can combine them and the tests can drive them without
a bus, a clock or a thread."""
