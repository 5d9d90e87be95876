"""The MQTT control plane: topics, message schemas, command validation and acks (DESIGN.md § MQTT).

The pure part (`messages`, `commands`) has no sockets, threads or clock of its own, so every rule a command
must pass can be tested, and fuzzed, without a broker; the broker client is a thin edge around it.
"""
