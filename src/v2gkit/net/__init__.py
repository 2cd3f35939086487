"""asyncio adapters: sockets, TLS and network namespaces around the sans-IO cores."""
