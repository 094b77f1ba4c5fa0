"""The one error tree of bec-core.

Every error raised on purpose by bec-core derives from :class:`BECError`::

    BECError
    ├── DecodeError                      bytes that are not a valid BEC message
    ├── EncodeError                      a value the wire format cannot carry
    ├── EndpointError
    │   ├── IncompatibleRedisOperation   operation not allowed on the endpoint
    │   └── IncompatibleMessageForEndpoint  wrong message class for the endpoint
    ├── ConnectorError                   Redis unreachable, authentication failed, ...
    │   └── RedisServerError             a local redis-server could not be started
    ├── ConfigError                      a configuration file or variable is wrong
    ├── RequestTimeoutError              a wait with a deadline expired
    ├── DeviceError                      a device refused or failed an action
    └── ScanError                        a scan request was rejected or the scan failed
"""

from __future__ import annotations


class BECError(Exception):
    """Root of every error bec-core raises on purpose."""


class DecodeError(BECError, ValueError):
    """Bytes could not be decoded into a BEC message; the text says why (and where)."""


class EncodeError(BECError, TypeError):
    """A value cannot be encoded in the BEC wire format."""


class EndpointError(BECError):
    """An endpoint was used in a way its declaration does not allow."""


class IncompatibleRedisOperation(EndpointError, TypeError):
    """The connector method is not among the endpoint's allowed operations."""


class IncompatibleMessageForEndpoint(EndpointError, TypeError):
    """The message is not an instance of the endpoint's message type."""


class ConnectorError(BECError, ConnectionError):
    """Redis is unreachable, refused the credentials or a command."""


class RedisCredentialsError(ConnectorError):
    """Redis answers but refuses the user, its password, or a command for it: starting the stack
    again does not help, the credentials or the user's ACL must change (the text says which)."""


class RedisNoAnswerError(ConnectorError, TimeoutError):
    """Redis did not answer a call within its deadline (down, or frozen); the text says how long."""


class RedisServerError(ConnectorError):
    """A local redis-server could not be started or stopped."""


class ConfigError(BECError, ValueError):
    """A configuration file, flag or environment variable is invalid."""


class RequestTimeoutError(BECError, TimeoutError):
    """A wait with a deadline expired; the text names what was waited for."""


class DeviceError(BECError):
    """A device refused or failed an action."""


class ScanError(BECError):
    """A scan request was rejected, or a scan ended abnormally."""


__all__ = [
    "BECError",
    "ConfigError",
    "ConnectorError",
    "DecodeError",
    "DeviceError",
    "EncodeError",
    "EndpointError",
    "IncompatibleMessageForEndpoint",
    "IncompatibleRedisOperation",
    "RedisNoAnswerError",
    "RedisServerError",
    "RequestTimeoutError",
    "ScanError",
]
