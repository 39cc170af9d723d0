"""Floods its console: a gigabyte with terminal escapes, Rich markup and NUL bytes."""

import sys

chunk = ("\x1b[2J\x1b]0;owned\x07[/red][bold]flood[/bold]\x00 " * 16384).encode()
written = 0
while written < 1024**3:
    sys.stdout.buffer.write(chunk)
    written += len(chunk)
sys.stdout.buffer.write(b"\nlast line [/red] \x1b[31mred\x00\n")
