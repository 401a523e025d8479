"""Inverting a linear generator without stepping: N steps in closed form, and the implicit gradient.

From z_0 = 0, N gradient steps with step size eta on every image's inversion
loss give z_N = S_N (2 eta G^T D x), with M = I - 2 eta G^T D G
(:func:`iteration_matrix`) and S_N = I + M + ... + M^(N-1)
(:func:`geometric_sum`, by repeated squaring from about 2 log2(N) matrix
products of size k x k). :func:`closed_form_inversion` computes the same
numbers as :func:`~inverse_lessons.inversion.linear.unrolled_inversion` this
way; :func:`implicit_inversion` differentiates the answer through its
optimality condition instead of through any steps. Shapes: G (m, k), X (n, m),
result Z (n, k). :mod:`inverse_lessons.inversion.linear` re-exports all four.
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
    On the binary digits of N, from the lowest: the powers M^(2^j) by squaring
    and S_(2^(j+1)) = S_(2^j) + M^(2^j) S_(2^j). Each digit that is set is
    added to the sum of the lower digits used so far, a: without B as
    S_(a + 2^j) = S_a + M^a S_(2^j), keeping M^a = M^(a + 2^j) / M^(2^j) as the
    answer's M^N; with B as S_(2^j + a) B = S_(2^j) B + M^(2^j) S_a B, which
    needs no M^a, so that with r = 1 (one vector per image) the squarings are
    the only matrix products. About 2 log2(N) products instead of N, the same
    result as the sum term by term up to rounding.
    """
    n_steps = check_int("n_steps", n_steps, minimum=0)
    M = tf.convert_to_tensor(M)
    eye = tf.eye(M.shape[-1], batch_shape=M.shape[:-2], dtype=M.dtype)
    vectors = B is not None
    partial = tf.convert_to_tensor(B, dtype=M.dtype) if vectors else eye   # S_(2^j) B
    if n_steps == 0:
        return tf.zeros_like(partial), (None if vectors else eye)
    power, total, total_power = M, None, None   # M^(2^j); S_a B and M^a
    n = n_steps
    while n:
        if n & 1:
            if total is None:
                total, total_power = partial, power
            elif vectors:
                total = partial + tf.matmul(power, total)
            else:
                total = total + tf.matmul(total_power, partial)
                total_power = tf.matmul(total_power, power)
        n >>= 1
        if n:
            partial = partial + tf.matmul(power, partial)
            power = tf.matmul(power, power)
    return total, (None if vectors else total_power)


def closed_form_inversion(G, X, *, n_steps, step_size, mask=None, initial=None):
    """Compute the result of :func:`unrolled_inversion` in closed form.

    From z_0 = 0, N steps give
    z_N = 2 eta S_N G^T D x (:func:`iteration_matrix`, :func:`geometric_sum`).
    Without a mask one k x k matrix S_N serves the whole batch, and a start
    z_0 adds M^N z_0. With a mask each image has its own M and only its vector
    S_N b is formed; a start z_0 then gives z_0 plus the N steps from 0 on the
    residual x - G z_0 (gradient descent on a quadratic is affine in its
    start).

    Parameters
    ----------
    G, X, n_steps, step_size, mask, initial
        As for :func:`unrolled_inversion`.

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
    Sb, _ = geometric_sum(iteration_matrix(G, step, mask), n_steps, b)
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
