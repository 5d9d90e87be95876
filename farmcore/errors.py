"""Error types shared by every layer.

Each error carries the process exit status the command line uses (DESIGN.md: 1 on a device or
protocol error, 2 on bad usage or bad input) and renders as one line for a technician.
"""

from __future__ import annotations

from typing import ClassVar


class FarmError(Exception):
    """Base of all expected errors; never shown with a traceback."""

    exit_code = 1


class BadInput(FarmError):
    """A file, an argument or a payload that is not allowed."""

    exit_code = 2


class ConfigError(BadInput):
    """A data file (profile, recipe, site) failed validation; names the file and the field."""

    def __init__(self, file: str, field: str, message: str) -> None:
        self.file = file
        self.field = field
        self.message = message
        where = f"{file}: {field}" if field else file
        super().__init__(f"{where}: {message}")


class DeviceError(FarmError):
    """A device answered but refused or did not do what was asked."""


class CommError(DeviceError):
    """No usable answer: not connected, timeout, or a garbled frame."""


class ModbusExceptionReply(DeviceError):
    """The node answered with a Modbus exception (e.g. 2 illegal address, 3 illegal value)."""

    NAMES: ClassVar[dict[int, str]] = {
        1: "ILLEGAL_FUNCTION",
        2: "ILLEGAL_DATA_ADDRESS",
        3: "ILLEGAL_DATA_VALUE",
        4: "SERVER_DEVICE_FAILURE",
        5: "ACKNOWLEDGE",
        6: "SERVER_DEVICE_BUSY",
        10: "GATEWAY_PATH_UNAVAILABLE",
        11: "GATEWAY_TARGET_FAILED_TO_RESPOND",
    }

    def __init__(self, code: int, context: str = "") -> None:
        self.code = code
        name = self.NAMES.get(code, "UNKNOWN")
        text = f"Modbus exception {code} ({name})"
        super().__init__(f"{context}: {text}" if context else text)
