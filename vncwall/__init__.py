"""vncwall: many live VNC sessions on the faces of a rotating prism."""

__version__ = "0.1.0"
