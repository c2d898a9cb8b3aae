"""Small optimization problems with exact gradients and Hessians, and the methods the book runs on them.

Problems: an ill-conditioned quadratic (the "ravine") and L2-regularized logistic regression. Methods: gradient
descent, heavy-ball momentum (Polyak), Nesterov's accelerated gradient, and Newton's method with a backtracking line
search. Everything is float64 numpy; the first-order methods run a whole grid of (learning rate, momentum) pairs
at once, one row of the iterate matrix per pair, so that tuning costs one pass.

A method has converged at the first iteration where its error, relative to the error at the start, is at most
``tol``. The error is a function of the iterate: the distance to the minimizer on the quadratic (a gap in f would
weigh the flat direction by its tiny curvature and so ask less of it the worse the conditioning), the suboptimality
gap f(x) - f* on logistic regression.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# An iterate whose error grew this much over the start counts as diverged and is frozen.
_BLOWUP = 1e6


class Quadratic:
    """f(x) = 1/2 sum_i eig_i x_i^2, written in its eigenbasis with minimum 0 at the origin.

    Rotating the basis changes nothing that GD, momentum or Newton do (they are rotation-equivariant), so the
    eigenbasis loses no generality and keeps the coordinates readable: x_1 runs along the flattest direction.
    """

    def __init__(self, eig):
        self.eig = np.asarray(eig, dtype=float)

    @classmethod
    def ravine(cls, kappa: float, dim: int = 2) -> Quadratic:
        """Curvatures spaced geometrically from 1/kappa (along the valley) to 1 (across it): condition number kappa."""
        return cls(np.geomspace(1.0 / kappa, 1.0, dim))

    @property
    def smoothness(self) -> float:
        return float(self.eig.max())

    def f(self, x: np.ndarray) -> np.ndarray:
        return 0.5 * (x * x * self.eig).sum(-1)

    def grad(self, x: np.ndarray) -> np.ndarray:
        return x * self.eig

    def hess(self, x: np.ndarray) -> np.ndarray:
        return np.diag(self.eig)

    @staticmethod
    def distance(x: np.ndarray) -> np.ndarray:
        """Distance to the minimizer, the origin."""
        return np.linalg.norm(x, axis=-1)


class LogisticRegression:
    """Mean binary cross-entropy of p = sigmoid(w . [x, 1]) plus (l2 / 2) ||w||^2 (bias included: strongly convex)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, l2: float):
        self.X = np.hstack([np.asarray(x, dtype=float), np.ones((len(x), 1))])
        self.y = np.asarray(y, dtype=float)
        self.l2 = float(l2)
        self.dim = self.X.shape[1]

    @property
    def smoothness(self) -> float:
        """An upper bound on the Hessian's largest eigenvalue: p(1-p) <= 1/4."""
        return float(np.linalg.eigvalsh(self.X.T @ self.X).max() / (4 * len(self.y)) + self.l2)

    def f(self, w: np.ndarray) -> np.ndarray:
        z = w @ self.X.T
        return (np.logaddexp(0.0, z) - self.y * z).mean(-1) + 0.5 * self.l2 * (w * w).sum(-1)

    def grad(self, w: np.ndarray) -> np.ndarray:
        p = _sigmoid(w @ self.X.T)
        return (p - self.y) @ self.X / len(self.y) + self.l2 * w

    def hess(self, w: np.ndarray) -> np.ndarray:
        p = _sigmoid(self.X @ w)
        return (self.X.T * (p * (1 - p))) @ self.X / len(self.y) + self.l2 * np.eye(self.dim)

    def gap(self, f_star: float):
        """The suboptimality gap f(w) - f*, as an error function."""
        return lambda w: self.f(w) - f_star


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free


@dataclass
class Result:
    iters: int          # iterations to the tolerance; max_iters when it was not reached
    reached: bool
    lr: float = float("nan")
    beta: float = float("nan")
    path: np.ndarray | None = None  # iterates x_0 .. x_iters, when asked for


def descend(problem, x0: np.ndarray, lr, beta=0.0, *, error, tol: float, max_iters: int,
            nesterov: bool = False, stop_at_first: bool = True, keep_path: bool = False):
    """Heavy-ball or Nesterov iterations for every (lr, beta) pair at once (beta = 0 is gradient descent).

    Heavy ball: v <- beta v - lr grad(x); Nesterov (Sutskever et al. 2013's form): v <- beta v - lr grad(x + beta v);
    then x <- x + v. Returns the iterations each pair needed to bring ``error`` to ``tol`` times its start (-1 if it
    did not within ``max_iters`` or diverged) and, with ``keep_path``, the iterates (steps, pairs, dim). With
    ``stop_at_first`` the loop ends as soon as one pair converges, which is all that tuning for speed needs.
    """
    lr, beta = np.broadcast_arrays(np.atleast_1d(np.asarray(lr, dtype=float)),
                                   np.atleast_1d(np.asarray(beta, dtype=float)))
    lr, beta = lr[:, None], beta[:, None]
    x = np.repeat(np.asarray(x0, dtype=float)[None, :], len(lr), axis=0)
    v = np.zeros_like(x)
    err0 = float(error(np.asarray(x0, dtype=float)))
    iters = np.full(len(lr), -1)
    alive = np.ones(len(lr), dtype=bool)
    path = [x.copy()] if keep_path else None
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(1, max_iters + 1):
            a = np.flatnonzero(alive)  # converged and diverged pairs are frozen and cost nothing
            xa, va = x[a], v[a]
            g = problem.grad(xa + beta[a] * va if nesterov else xa)
            v[a] = beta[a] * va - lr[a] * g
            x[a] = xa + v[a]
            if keep_path:
                path.append(x.copy())
            rel = error(x[a]) / err0
            hit = rel <= tol
            iters[a[hit]] = k
            alive[a[~hit & ~(np.isfinite(rel) & (rel < _BLOWUP))]] = False
            alive[a[hit]] = False
            if (stop_at_first and hit.any()) or not alive.any():
                break
    return iters, (np.stack(path) if keep_path else None)


def tune(problem, x0: np.ndarray, lrs, betas, *, error, tol: float, max_iters: int, nesterov: bool = False) -> Result:
    """The (lr, beta) pair of the grid lrs x betas that reaches the tolerance in the fewest iterations.

    Ties go to the earlier pair in grid order. When no pair converges the result is max_iters, not reached.
    """
    lr, beta = (a.ravel() for a in np.meshgrid(np.asarray(lrs, float), np.asarray(betas, float), indexing="ij"))
    iters, _ = descend(problem, x0, lr, beta, error=error, tol=tol, max_iters=max_iters, nesterov=nesterov)
    if (iters < 0).all():
        return Result(max_iters, False)
    best = int(np.argmin(np.where(iters < 0, np.iinfo(int).max, iters)))
    return Result(int(iters[best]), True, float(lr[best]), float(beta[best]))


def newton_step(problem, x: np.ndarray, armijo: float = 1e-4) -> np.ndarray:
    """x - t H^-1 grad, with t halved from 1 until the Armijo condition holds (Boyd & Vandenberghe's damped Newton).

    The line search only matters far from the optimum; near it t = 1 and convergence is quadratic.
    """
    g = problem.grad(x)
    step = np.linalg.solve(problem.hess(x), g)
    fx, t = float(problem.f(x)), 1.0
    while float(problem.f(x - t * step)) > fx - armijo * t * float(g @ step) and t > 1e-10:
        t *= 0.5
    return x - t * step


def newton(problem, x0: np.ndarray, *, error, tol: float, max_iters: int = 100, keep_path: bool = False) -> Result:
    """Damped Newton iterations until ``error`` is ``tol`` times its start. On a quadratic one step lands on the minimum."""
    x = np.asarray(x0, dtype=float).copy()
    err0 = float(error(x))
    path = [x.copy()]
    for k in range(1, max_iters + 1):
        x = newton_step(problem, x)
        path.append(x.copy())
        if float(error(x)) / err0 <= tol:
            return Result(k, True, path=np.stack(path) if keep_path else None)
    return Result(max_iters, False, path=np.stack(path) if keep_path else None)


def minimize(problem, x0: np.ndarray, iters: int = 50) -> tuple[np.ndarray, float]:
    """The minimizer and minimum to machine precision, by damped Newton (used to know f* before timing)."""
    x = np.asarray(x0, dtype=float).copy()
    for _ in range(iters):
        x = newton_step(problem, x)
    return x, float(problem.f(x))


METHODS = ("gd", "momentum", "nesterov", "newton")


def solve(problem, x0: np.ndarray, method: str, *, lrs, betas, error, tol: float, max_iters: int) -> Result:
    """``method`` run to the tolerance: Newton's method as it is, a first-order method tuned over the grid (learning
    rates ``lrs`` for every method; momenta ``betas`` for heavy ball and Nesterov, 0 for gradient descent). The
    result carries the path of the run (the tuned one for a first-order method); for a first-order method that
    never reached the tolerance, no path."""
    if method == "newton":
        return newton(problem, x0, error=error, tol=tol, max_iters=max_iters, keep_path=True)
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; known: {', '.join(METHODS)}")
    nesterov = method == "nesterov"
    result = tune(problem, x0, lrs, betas if method != "gd" else [0.0], error=error, tol=tol, max_iters=max_iters,
                  nesterov=nesterov)
    if result.reached:
        _, path = descend(problem, x0, result.lr, result.beta, error=error, tol=tol, max_iters=result.iters,
                          nesterov=nesterov, keep_path=True)
        result.path = path[:, 0]
    return result
