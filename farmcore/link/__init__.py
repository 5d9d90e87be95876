"""The MQTT control plane: topics, typed messages and their schemas, command validation and acks, the daemon's
link and the zone client (DESIGN.md § MQTT).

The pure part (`topics`, `payloads`, `messages`, `commands`, `schemas`) has no sockets, threads or clock of its
own, so every rule a command must pass can be tested, and fuzzed, without a broker; the daemon's link
(`client`) and the zone client (`zoneclient`) are thin edges around it.
"""
