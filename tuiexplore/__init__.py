"""tuiexplore: step real socket syscalls and watch Linux decide FIN or RST."""

__version__ = "0.1.0"
