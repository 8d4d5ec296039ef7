"""The relay: the child process, framing, strict JSON-RPC decoding, the two pumps and held requests."""
