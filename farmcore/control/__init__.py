"""Pure control primitives: PID, switching (hysteresis, min on/off, rate limits, ramps, staging) and arbitration.

Nothing here touches a socket, a thread, a sleep or the system clock: every call takes its readings,
setpoints and `now` as arguments and returns its target together with the reason, so the daemon can write
a decision trace and the tests can drive the same code with a simulated plant and a simulated clock.
"""
