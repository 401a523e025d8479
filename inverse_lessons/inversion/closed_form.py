"""Inverting a linear generator without stepping: N steps in closed form, and the implicit gradient.

From z_0 = 0, N gradient steps with step size eta on every image's inversion
loss give z_N = S_N (2 eta G^T D x), with M = I - 2 eta G^T D G
(:func:`iteration_matrix`) and S_N = I + M + ... + M^(N-1)
(:func:`geometric_sum`, by repeated squaring from about 2 log2(N) matrix
products of size k x k). :func:`closed_form_inversion` computes the same
numbers as :func:`~inverse_lessons.inversion.linear.unrolled_inversion` this
way; :func:`implicit_inversion` differentiates the answer through its
optimality condition instead of through any steps. With a mask (one M per
image) the gradient of S_N b is written by hand from M's symmetry, and
training can compile it with XLA. Shapes: G (m, k), X (n, m), result Z (n, k).
:mod:`inverse_lessons.inversion.linear` re-exports all four.
"""

from __future__ import annotations

from inverse_lessons._tf import tf, to_dtype
from inverse_lessons._validation import check_int

__all__ = ["iteration_matrix", "geometric_sum", "closed_form_inversion", "implicit_inversion"]


def iteration_matrix(G, step_size, mask=None):
    """Form M = I - 2 eta G^T D G, what one gradient step on the inversion loss does to z.

    One step from z gives M z + 2 eta G^T D x, so N steps from z_0 give
    z_N = M^N z_0 + 2 eta S_N G^T D x, with S_N from :func:`geometric_sum`.

    Parameters
    ----------
    G : array-like or tf.Tensor, shape (m, k)
        The generator.
    step_size : float or scalar tf.Tensor
        The step size eta.
    mask : array-like of shape (n, m) or None, default None
        1 for an observed pixel, 0 for a missing one, one row per image; None
        when every pixel is observed (D = I).

    Returns
    -------
    tf.Tensor, shape (k, k), or (n, k, k) with a mask
        M, symmetric; one per image with a mask.
    """
    G = tf.convert_to_tensor(G)
    step = to_dtype(step_size, G.dtype)
    eye = tf.eye(G.shape[1], dtype=G.dtype)
    if mask is None:
        return eye - 2.0 * step * tf.matmul(G, G, transpose_a=True)
    mask = tf.convert_to_tensor(mask, dtype=G.dtype)
    return eye - 2.0 * step * tf.einsum("pi,np,pj->nij", G, mask, G)


def geometric_sum(M, n_steps, B=None):
    """Compute S_N = I + M + ... + M^(N-1) and M^N, or S_N B, by repeated squaring.

    Parameters
    ----------
    M : array-like or tf.Tensor, shape (..., k, k)
        One matrix or a batch.
    n_steps : int
        N, a Python int >= 0.
    B : array-like of shape (..., k, r) or None, default None
        Given, the product S_N B is returned without forming S_N.

    Returns
    -------
    sum : tf.Tensor, shape (..., k, k), or (..., k, r) with B
        S_N, or S_N B; N = 0 gives 0.
    power : tf.Tensor of shape (..., k, k) or None
        M^N (the identity for N = 0); None when B is given.

    Notes
    -----
    On the binary digits of N, from the lowest (:func:`_applied_levels`): the
    powers P = M^(2^j) by squaring, S_(2^(j+1)) B = S_(2^j) B + P S_(2^j) B,
    and for each digit that is set, added to the sum of the lower digits used
    so far, a: S_(2^j + a) B = S_(2^j) B + P S_a B. Without B, B = I, and M^N is
    the product of the powers of the digits that are set. About 2 log2(N)
    products instead of N, the same result as the sum term by term up to
    rounding.
    """
    n_steps = check_int("n_steps", n_steps, minimum=0)
    M = tf.convert_to_tensor(M)
    eye = tf.eye(M.shape[-1], batch_shape=M.shape[:-2], dtype=M.dtype)
    applied_to = eye if B is None else tf.convert_to_tensor(B, dtype=M.dtype)
    if n_steps == 0:
        return tf.zeros_like(applied_to), (eye if B is None else None)
    total, levels = _applied_levels(M, n_steps, applied_to)
    if B is not None:
        return total, None
    power = eye
    for level_power, _, _, digit in levels:
        if digit:
            power = tf.matmul(level_power, power)
    return total, power


def _applied_levels(M, n_steps, B):
    """Compute S_N B by repeated squaring, keeping what each binary digit used.

    Returns S_N B and, for each digit j of N from the lowest, the tuple
    (M^(2^j), S_(2^j) B, S_a B before the digit was added or None, whether
    the digit is set), which the gradient of :func:`_symmetric_applied_sum`
    reads.
    """
    levels = []
    power, partial, total = M, B, None   # M^(2^j), S_(2^j) B, S_a B
    n = n_steps
    while n:
        levels.append((power, partial, total, bool(n & 1)))
        if n & 1:
            total = partial if total is None else partial + tf.matmul(power, total)
        n >>= 1
        if n:
            partial = partial + tf.matmul(power, partial)
            power = tf.matmul(power, power)
    return total, levels


def _symmetric_applied_sum(M, B, n_steps):
    """Compute S_N B for symmetric M, with a gradient that uses the symmetry.

    The value is :func:`geometric_sum`'s ``S_N B`` (the same operations). The
    gradient is reverse mode through those operations, except that each
    power M^(2^j) = P is symmetric and changes only symmetrically (M does), so
    only the symmetric part H of its adjoint matters: the adjoint a squaring
    P -> P P passes down, H P + P H, is then T + T^T with T = H P, one k x k
    product where automatic differentiation takes two. The gradient returned
    for M is the symmetric part of the true one, which gives the same
    gradient for anything M is made from symmetrically (G in
    M = I - 2 eta G^T D G); it is not the gradient for a nonsymmetric M.
    """
    if n_steps == 0:
        return tf.zeros_like(B)

    @tf.custom_gradient
    def applied(M, B):
        total, levels = _applied_levels(M, n_steps, B)

        def grad(upstream):
            # adjoints of the running total, of S_(2^(j+1)) B, and (symmetric) of M^(2^(j+1))
            d_total, d_partial, d_power = upstream, None, None
            for power, partial, before, digit in reversed(levels):
                d_own, outer = d_partial, None          # of S_(2^j) B, and of M^(2^j)
                if d_partial is not None:   # S_(2^(j+1)) B = S_(2^j) B + P S_(2^j) B
                    d_own = d_own + tf.matmul(power, d_partial)
                    outer = tf.matmul(d_partial, partial, transpose_b=True)
                if digit:                   # total = S_(2^j) B (+ P total before)
                    d_own = d_total if d_own is None else d_own + d_total
                    if before is None:
                        d_total = None
                    else:
                        term = tf.matmul(d_total, before, transpose_b=True)
                        outer = term if outer is None else outer + term
                        d_total = tf.matmul(power, d_total)
                if d_power is not None:     # M^(2^(j+1)) = P P
                    term = 2.0 * tf.matmul(d_power, power)
                    outer = term if outer is None else outer + term
                d_power = None if outer is None else 0.5 * (
                    outer + tf.linalg.matrix_transpose(outer))
                d_partial = d_own
            return (tf.zeros_like(M) if d_power is None else d_power), d_partial

        return total, grad

    return applied(M, B)


_compiled_applied_sum = tf.function(_symmetric_applied_sum, jit_compile=True, autograph=False)


def closed_form_inversion(G, X, *, n_steps, step_size, mask=None, initial=None,
                          jit_compile=False):
    """Compute the result of :func:`unrolled_inversion` in closed form.

    From z_0 = 0, N steps give
    z_N = 2 eta S_N G^T D x (:func:`iteration_matrix`, :func:`geometric_sum`).
    Without a mask one k x k matrix S_N serves the whole batch, and a start
    z_0 adds M^N z_0. With a mask each image has its own M and only its vector
    S_N b is formed; a start z_0 then gives z_0 plus the N steps from 0 on the
    residual x - G z_0 (gradient descent on a quadratic is affine in its
    start). The gradient of S_N b uses that each M is symmetric (one k x k
    product a binary digit of N instead of automatic differentiation's two).

    Parameters
    ----------
    G, X, n_steps, step_size, mask, initial
        As for :func:`unrolled_inversion`.
    jit_compile : bool, default False
        With a mask, compile S_N b and its gradient with XLA (``tf.function``'s
        ``jit_compile``): about twice as fast inside a traced training step,
        where the many small per-image products dominate, but each new shape
        and N is compiled first. The same numbers up to float rounding.

    Returns
    -------
    tf.Tensor, shape (n, k)
        The latents after N steps (the start, zero by default, for N = 0).
    """
    n_steps = check_int("n_steps", n_steps, minimum=0)
    G = tf.convert_to_tensor(G)
    X = tf.convert_to_tensor(X, dtype=G.dtype)
    step = to_dtype(step_size, G.dtype)
    start = None if initial is None else tf.convert_to_tensor(initial, dtype=G.dtype)
    if mask is None:
        S, M_n = geometric_sum(iteration_matrix(G, step), n_steps)
        Z = 2.0 * step * tf.matmul(tf.matmul(X, G), S)   # S and M^N are symmetric
        return Z if start is None else Z + tf.matmul(start, M_n)
    mask = tf.convert_to_tensor(mask, dtype=G.dtype)
    if start is not None:
        X = X - tf.matmul(start, G, transpose_b=True)
    b = tf.matmul(X * mask, G)[..., None]                # G^T D x, (n, k, 1)
    applied_sum = _compiled_applied_sum if jit_compile else _symmetric_applied_sum
    Sb = applied_sum(iteration_matrix(G, step, mask), b, n_steps)
    Z = 2.0 * step * Sb[..., 0]
    return Z if start is None else start + Z


def implicit_inversion(G, X, *, n_steps=None, step_size=None):
    """Invert with a gradient from the implicit function theorem, not from the steps.

    Forward: with ``n_steps=None`` the exact least-squares latents, from the
    normal equations G^T G z = G^T x (G must have full column rank);
    otherwise the N-step iterate of :func:`closed_form_inversion`, which
    may not have converged. Backward: nothing of the forward pass is stored;
    the gradient is the one the optimality condition
    G^T (G z - x) = 0 implies, evaluated at the returned latents.
    For an upstream gradient g = dl/dz (n, k), with V = g (G^T G)^-1 and
    residuals R = X - Z G^T,

        dl/dG = R^T V - G V^T Z ,     dl/dX = V G^T .

    At the exact solution this is the true gradient; at an iterate that has
    not converged it is only an approximation of the N-step gradient
    (chapter 5 measures how far off). Memory and time do not grow with N
    beyond the forward pass.

    Parameters
    ----------
    G : array-like or tf.Tensor, shape (m, k)
        The generator, of full column rank.
    X : array-like or tf.Tensor, shape (n, m)
        Complete images as rows (no mask).
    n_steps : int or None, default None
        None for the exact least-squares latents, else N.
    step_size : float or None, default None
        The step size eta when ``n_steps`` is given.

    Returns
    -------
    tf.Tensor, shape (n, k)
        The latents Z.
    """

    @tf.custom_gradient
    def solve(G, X):
        gram = tf.matmul(G, G, transpose_a=True)
        chol = tf.linalg.cholesky(gram)
        if n_steps is None:
            Z = tf.transpose(tf.linalg.cholesky_solve(
                chol, tf.matmul(G, X, transpose_a=True, transpose_b=True)))
        else:
            Z = closed_form_inversion(G, X, n_steps=n_steps, step_size=step_size)

        def grad(upstream):
            V = tf.transpose(tf.linalg.cholesky_solve(chol, tf.transpose(upstream)))
            R = X - tf.matmul(Z, G, transpose_b=True)
            dG = (tf.matmul(R, V, transpose_a=True)
                  - tf.matmul(G, tf.matmul(V, Z, transpose_a=True)))
            return dG, tf.matmul(V, G, transpose_b=True)

        return Z, grad

    G = tf.convert_to_tensor(G)
    step_size = None if step_size is None else tf.stop_gradient(to_dtype(step_size, G.dtype))
    return solve(G, tf.convert_to_tensor(X, dtype=G.dtype))
