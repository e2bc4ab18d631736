"""Sequence-number arithmetic modulo 2**32, as include/net/tcp.h's before()/after()."""

MOD = 1 << 32


def before(a: int, b: int) -> bool:
    return 0 < (b - a) % MOD < MOD // 2


def after(a: int, b: int) -> bool:
    return before(b, a)
