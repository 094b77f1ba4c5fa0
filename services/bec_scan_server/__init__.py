"""bec-core's scan server: queues scan requests and runs them against the device server."""
