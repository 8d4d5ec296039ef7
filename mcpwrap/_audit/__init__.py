"""The tamper-evident audit log: the writer, the hash chain and its keys, verification, reading."""
