"""The daemon: one asyncio process per site runs the tick loop of every zone, the scheduler and the safety layer."""
