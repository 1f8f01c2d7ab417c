"""Shamir secret sharing over GF(2^8) with the AES polynomial x^8+x^4+x^3+x+1 (0x11B), in the
share format of sops' shamir package (derived from HashiCorp Vault's): each share is the 32
evaluations followed by its x-coordinate byte, and group *i* (0-based) gets x = i + 1."""

from __future__ import annotations

from kubecrypt.crypto.rand import RandomSource, system_random


class ShamirError(Exception):
    pass


def _gmul(a: int, b: int) -> int:
    r = 0
    while b:
        if b & 1:
            r ^= a
        a <<= 1
        if a & 0x100:
            a ^= 0x11B
        b >>= 1
    return r


_EXP = [0] * 510
_LOG = [0] * 256
_x = 1
for _i in range(255):
    _EXP[_i] = _x
    _LOG[_x] = _i
    _x = _gmul(_x, 3)
for _i in range(255, 510):
    _EXP[_i] = _EXP[_i - 255]


def _mul(a: int, b: int) -> int:
    if a == 0 or b == 0:
        return 0
    return _EXP[_LOG[a] + _LOG[b]]


def _div(a: int, b: int) -> int:
    if b == 0:
        raise ShamirError("divide by zero")
    if a == 0:
        return 0
    return _EXP[(_LOG[a] - _LOG[b]) % 255]


def split(secret: bytes, parts: int, threshold: int, rand: RandomSource = system_random,
          ) -> list[bytes]:
    if parts < threshold:
        raise ShamirError("parts cannot be less than threshold")
    if parts > 255:
        raise ShamirError("parts cannot exceed 255")
    if threshold < 2:
        raise ShamirError("threshold must be at least 2")
    if not secret:
        raise ShamirError("cannot split an empty secret")
    out = [bytearray() for _ in range(parts)]
    for byte in secret:
        coeffs = [byte, *rand(threshold - 1)]
        for p in range(parts):
            x = p + 1
            y = 0
            for c in reversed(coeffs):  # Horner
                y = _mul(y, x) ^ c
            out[p].append(y)
    for p in range(parts):
        out[p].append(p + 1)
    return [bytes(s) for s in out]


def combine(shares: list[bytes]) -> bytes:
    if len(shares) < 2:
        raise ShamirError("less than two parts cannot be used to reconstruct the secret")
    n = len(shares[0])
    if n < 2 or any(len(s) != n for s in shares):
        raise ShamirError("all parts must be the same length and at least two bytes")
    xs = [s[-1] for s in shares]
    if len(set(xs)) != len(xs):
        raise ShamirError("duplicate part detected")
    secret = bytearray()
    for i in range(n - 1):
        acc = 0
        for j, sj in enumerate(shares):
            # Lagrange basis at 0: prod x_m / (x_m - x_j); subtraction is XOR in GF(2^8).
            basis = 1
            for m, xm in enumerate(xs):
                if m != j:
                    basis = _mul(basis, _div(xm, xm ^ xs[j]))
            acc ^= _mul(sj[i], basis)
        secret.append(acc)
    return bytes(secret)
