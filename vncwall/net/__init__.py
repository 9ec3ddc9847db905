"""Sans-IO RFB (RFC 6143) client core; only `transport` touches sockets."""
