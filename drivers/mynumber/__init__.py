"""My Number card applications over the protocol layer (card-protocol.md)."""
