"""The historian: one interface for every reading, setpoint, actuator move and event, on SQLite (embedded
default) or InfluxDB (through a durable local spool)."""
