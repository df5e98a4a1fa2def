"""Queueing models for capacity planning: Erlang B (lines), Erlang C and Erlang A (seats).

Pure functions of the offered load, numerically stable for thousands of servers (no
factorials, no powers: each is a recursion or a ratio walk whose terms stay in [0, 1]).

Why not a library: `pyworkforce` (MIT) has Erlang C but no Erlang B and no Erlang A, and
installs numpy, pandas and OR-Tools (~150 MB) for it; nothing else maintained on PyPI covers
Erlang A. These are the textbook recursions; tests/unit/test_erlang.py checks them against
Erlang B/C table values, each re-derived there in exact rational arithmetic from the closed
forms (and, where a printed source was found, says which).

Notation: `a` offered load in erlangs (arrival rate × mean holding time), `n` servers
(lines or seats), `lam` arrivals per second, `mu` = 1 / mean handling time (s⁻¹),
`theta` = 1 / mean patience (s⁻¹, 0 = nobody abandons: Erlang C).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

MAX_SERVERS = 100_000


def erlang_b(n: int, a: float) -> float:
    """Blocking probability of an M/M/n/n loss system (Erlang B), by B(k) = a·B(k−1) / (k + a·B(k−1))."""
    if n < 0 or a < 0:
        raise ValueError("n and a must be non-negative")
    b = 1.0
    for k in range(1, n + 1):
        b = a * b / (k + a * b)
    return b


def lines_needed(a: float, target: float) -> int:
    """The fewest lines whose Erlang B blocking is at most `target` (0 < target < 1)."""
    if not 0 < target < 1:
        raise ValueError("target must be a fraction strictly between 0 and 1")
    if a <= 0:
        return 0
    b, n = 1.0, 0
    while b > target:
        n += 1
        b = a * b / (n + a * b)
        if n > MAX_SERVERS:
            raise ValueError("load too large")
    return n


def erlang_c(n: int, a: float) -> float:
    """Probability that an arrival waits in an M/M/n queue (Erlang C); 1 when a ≥ n (unstable)."""
    if n <= 0 or a >= n:
        return 1.0
    b = erlang_b(n, a)
    return n * b / (n - a * (1 - b))


def erlang_c_service_level(n: int, a: float, aht: float, t: float) -> float:
    """Fraction of calls answered within `t` seconds in Erlang C: 1 − C·e^{−(n−a)t/aht}."""
    if n <= 0 or a >= n:
        return 0.0
    return 1.0 - erlang_c(n, a) * math.exp(-(n - a) * t / aht)


def seats_erlang_c(a: float, aht: float, t: float, target: float) -> int:
    """The fewest seats with an Erlang C service level (answered within t) of at least `target`."""
    if a <= 0:
        return 0
    return _fewest(lambda n: n > a and erlang_c_service_level(n, a, aht, t) >= target, math.floor(a) + 1)


@dataclass(frozen=True)
class ErlangA:
    """An M/M/n+M queue's steady state (Palm's Erlang A), per arriving call."""

    wait: float  # P(the call waits at all)
    abandon: float  # P(the caller hangs up before an operator answers)
    within: float  # P(answered within t seconds)

    @property
    def answered(self) -> float:
        return 1.0 - self.abandon


def _stationary(n: int, lam: float, mu: float, theta: float, eps: float = 1e-15) -> list[float]:
    """π_0 … π_K of the birth-death chain, normalised; K where the (geometric) tail is below eps."""
    a = lam / mu
    w = [1.0]
    total = 1.0
    for k in range(1, n + 1):  # π_k / π_{k−1} = a / k
        w.append(w[-1] * a / k)
        total += w[-1]
        if w[-1] > 1e250:  # rescale (only for a load far above n)
            w = [x / 1e250 for x in w]
            total /= 1e250
    j = 0
    while True:  # in the queue: π_{n+j} / π_{n+j−1} = λ / (nμ + jθ), decreasing in j
        j += 1
        r = lam / (n * mu + j * theta)
        w.append(w[-1] * r)
        total += w[-1]
        if w[-1] > 1e250:
            w = [x / 1e250 for x in w]
            total /= 1e250
        if r < 1 and w[-1] * r / (1 - r) < eps * total:
            break
        if j > 200_000:
            raise ValueError("queue does not settle (patience too long for the load)")
    total = math.fsum(w)
    return [x / total for x in w]


def _served_within(n: int, mu: float, theta: float, t: float, max_ahead: int) -> list[float]:
    """P(answered within t | j callers ahead in the queue on arrival), for j = 0 … max_ahead.

    The tagged caller moves up at rate n·μ + i·θ with i callers ahead (a seat frees or one of
    them hangs up) and leaves at rate θ (its own patience). Computed by uniformisation.
    """
    size = max_ahead + 1
    rates = [n * mu + i * theta for i in range(size)]
    lam_u = rates[-1] + theta
    if lam_u <= 0 or t <= 0:
        return [0.0] * size
    x = lam_u * t
    down_p = [r / lam_u for r in rates]
    stay_p = [(lam_u - r - theta) / lam_u for r in rates]
    g = [0.0] * size  # P(served within m uniformised steps | i ahead)
    out = [0.0] * size
    m_max = int(x + 12 * math.sqrt(x) + 30)
    log_x = math.log(x)
    log_p = -x  # log Poisson(0; x)
    cum = 0.0
    for m in range(0, m_max + 1):
        if m > 0:
            # only states within m steps of service can have been served: i < m
            top = min(size, m)
            g = [down_p[i] * (g[i - 1] if i else 1.0) + stay_p[i] * g[i] if i < top else 0.0
                 for i in range(size)] if top < size else \
                [down_p[i] * (g[i - 1] if i else 1.0) + stay_p[i] * g[i] for i in range(size)]
            log_p += log_x - math.log(m)
        p = math.exp(log_p)
        cum += p
        if p > 1e-300:
            for i in range(min(size, m)):
                out[i] += p * g[i]
        if cum > 1 - 1e-13 and m > x:
            break
    return out


@lru_cache(maxsize=65536)
def erlang_a(n: int, lam: float, mu: float, theta: float, t: float = 15.0) -> ErlangA:
    """Erlang A (M/M/n+M): P(wait), P(abandon) and P(answered within t) per arriving call.

    With theta = 0 it is Erlang C (and needs lam < n·mu). With n = 0 every caller abandons.
    """
    if lam <= 0:
        return ErlangA(wait=0.0, abandon=0.0, within=1.0)
    if n <= 0:
        return ErlangA(wait=1.0, abandon=1.0, within=0.0)
    if theta <= 0:
        a = lam / mu
        if a >= n:
            return ErlangA(wait=1.0, abandon=0.0, within=0.0)
        return ErlangA(wait=erlang_c(n, a), abandon=0.0, within=erlang_c_service_level(n, a, 1 / mu, t))
    pi = _stationary(n, lam, mu, theta)
    queue = pi[n:]
    wait = math.fsum(queue)
    # abandonment flow Σ (k−n)θ π_k over the arrival flow λ
    abandon = math.fsum((j * theta) * p for j, p in enumerate(queue)) / lam
    # callers who find j ahead, for the j that carry mass (the rest add < 1e-12)
    ahead = len(queue)
    tail = 0.0
    while ahead > 1 and tail + queue[ahead - 1] < 1e-12:
        ahead -= 1
        tail += queue[ahead]
    served = _served_within(n, mu, theta, t, ahead - 1)
    within = math.fsum(pi[:n]) + math.fsum(p * s for p, s in zip(queue[:ahead], served, strict=True))
    return ErlangA(wait=wait, abandon=min(1.0, abandon), within=min(1.0, within))


def _fewest(ok: Callable[[int], bool], start: int) -> int:
    """The least n ≥ 1 with ok(n), for a predicate monotone in n: doubling, then bisection."""
    lo, hi = 0, max(1, start)  # ok(lo) is taken as false; find hi with ok(hi)
    while not ok(hi):
        lo, hi = hi, hi * 2
        if hi > MAX_SERVERS:
            raise ValueError("load too large")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


def seats_erlang_a(lam: float, mu: float, theta: float, t: float, within_target: float,
                   answered_target: float) -> int:
    """The fewest seats meeting both 15秒接通率 (answered within t) and 接通率 targets in Erlang A."""
    if lam <= 0:
        return 0

    def ok(n: int) -> bool:
        r = erlang_a(n, lam, mu, theta, t)
        return r.within >= within_target and r.answered >= answered_target

    return _fewest(ok, math.ceil(lam / mu))


@dataclass(frozen=True)
class LinesAndSeats:
    """M/M/n/K+M: n seats, K trunk lines (a caller waiting in the queue holds a line)."""

    refused: float  # P(an arriving call finds every line busy)
    abandon: float  # P(an accepted call hangs up before an operator answers)


@lru_cache(maxsize=65536)
def lines_and_seats(lines: int, seats: int, lam: float, mu: float, theta: float) -> LinesAndSeats:
    return lines_and_seats_upto(lines, lines, seats, lam, mu, theta)[0]


@lru_cache(maxsize=65536)
def lines_and_seats_upto(lines: int, most: int, seats: int, lam: float, mu: float,
                         theta: float) -> tuple[LinesAndSeats, ...]:
    """lines_and_seats for lines, lines + 1, …, most in one pass (the chain truncated at each)."""
    if lines <= 0:
        return tuple(_lines_and_seats(k, seats, lam, mu, theta) for k in range(lines, most + 1))
    if lam <= 0:
        return tuple(LinesAndSeats(refused=0.0, abandon=0.0) for _ in range(lines, most + 1))
    w = [1.0]
    for k in range(1, most + 1):
        served = min(k, seats)
        out = served * mu + (k - served) * theta
        w.append(w[-1] * lam / out if out > 0 else w[-1] * 1e6)
        if w[-1] > 1e250:
            w = [x / 1e250 for x in w]
    res = []
    for cap in range(lines, most + 1):
        part = w[:cap + 1]
        total = math.fsum(part)
        n = min(seats, cap)
        top = part[-1] / total
        ab = math.fsum(max(0, k - n) * theta * x for k, x in enumerate(part)) / total
        accepted = lam * (1 - top)
        res.append(LinesAndSeats(refused=top, abandon=min(1.0, ab / accepted) if accepted > 0 else 0.0))
    return tuple(res)


def _lines_and_seats(lines: int, seats: int, lam: float, mu: float, theta: float) -> LinesAndSeats:
    """Blocking and abandonment of a hotline with `lines` trunk lines and `seats` operators.

    Erlang B treats a line as held for a fixed time, whatever the queue; on a hotline a caller
    holds a line while waiting too, so the lines' load depends on the seats. This is the
    birth-death chain of Erlang A truncated at `lines` (arrivals finding it full are refused).
    """
    if lines <= 0:
        return LinesAndSeats(refused=1.0, abandon=0.0)
    if lam <= 0:
        return LinesAndSeats(refused=0.0, abandon=0.0)
    n = min(seats, lines)
    w = [1.0]
    for k in range(1, lines + 1):
        out = min(k, n) * mu + max(0, k - n) * theta
        w.append(w[-1] * lam / out if out > 0 else w[-1] * 1e6)
        if w[-1] > 1e250:
            w = [x / 1e250 for x in w]
    total = math.fsum(w)
    pi = [x / total for x in w]
    accepted = lam * (1 - pi[-1])
    ab = math.fsum(max(0, k - n) * theta * p for k, p in enumerate(pi))
    return LinesAndSeats(refused=pi[-1], abandon=min(1.0, ab / accepted) if accepted > 0 else 0.0)
