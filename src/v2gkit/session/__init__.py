"""Sans-IO state machines: the app handshake now, the charging sessions per protocol next."""
