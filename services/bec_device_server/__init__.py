"""bec-core's device server: owns every ophyd device and serves instructions over Redis.

Entry point ``bec-device-server --redis HOST:PORT --config DEVICES.yaml``
(:mod:`bec_device_server.cli`). The service is :class:`bec_device_server.server.DeviceServer`.
"""

__all__: list[str] = []
