"""packetdrill scripts (``.pkt``): read into typed events, never executed as given.

Split as packetdrill's own tree is: ``script`` holds the typed events (its ``script.h``),
``lexer`` and ``parser`` read the language of its ``lexer.l``/``parser.y``, ``shell`` turns the
backtick lines that only set sysctls into the lab's own settings and refuses the rest, and
``tcpinfo`` evaluates ``%{ }%`` asserts over ``TCP_INFO`` fields without ``exec``.
"""
