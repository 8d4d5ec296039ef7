"""The relay: byte-faithful forwarding between the client and the wrapped server. It knows nothing of policy.

- ``relay.py``: request tracking, the two pumps, refusing what cannot be examined (:class:`relay.Relay`)
- ``framing.py``: newline framing in linear time, oversized lines cut down
- ``jsonrpc.py``: strict decoding, id recovery, the responses mcpwrap writes itself (the block contract)
- ``holds.py``: the handle of a held request (implements :class:`mcpwrap._message.HeldCall`)
- ``io.py``: the writer of one pipe
- ``process.py``: the server's process: spawn, signals, the close → TERM → KILL shutdown
- ``learn.py``: what the traffic tells about the session (protocol version, capabilities, tools)

Nothing is imported here, so reading one module (e.g. ``jsonrpc``) does not load the pumps and threads.
"""
