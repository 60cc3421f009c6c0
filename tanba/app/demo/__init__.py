"""The bundled demo: a small loopback web of real media, some of it copied from registered works."""
