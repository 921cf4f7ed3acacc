//! Coordinates shared by the samplers.

use tenku_core::{NoiseFamily, NoiseLevel};

/// The point of `level` in the coordinates ODE samplers (Euler, Heun) integrate in:
/// `(scale, s)` such that `y = x / scale` obeys `dy/ds = (y − x0)/s`.
///
/// Flow and variance-exploding processes already have that form in `(x, σ)` (for flow,
/// `dx/dσ = (x − x0)/σ` is exactly diffusers' `x + Δσ·v` step); variance-preserving ones are
/// rescaled to k-diffusion's `(x/α, σ/α)`.
pub(crate) fn ode_point(family: NoiseFamily, level: &NoiseLevel) -> (f64, f64) {
    match family {
        NoiseFamily::Flow | NoiseFamily::VarianceExploding => (1.0, level.sigma),
        NoiseFamily::VariancePreserving => (level.alpha, level.ve_sigma()),
    }
}

/// `λ = ln(α/σ)`, with α floored at 1e-6 so that a flow level at exactly σ = 1 stays finite.
pub(crate) fn lambda(level: &NoiseLevel) -> f64 {
    level.alpha.max(1e-6).ln() - level.sigma.ln()
}

/// Solves the small dense system `a·x = b` by Gaussian elimination with partial pivoting.
pub(crate) fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Vec<f64> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs())).unwrap_or(col);
        a.swap(col, pivot);
        b.swap(col, pivot);
        let (upper, lower) = a.split_at_mut(col + 1);
        let pivot_row = &upper[col];
        for (offset, row) in lower.iter_mut().enumerate() {
            let factor = row[col] / pivot_row[col];
            for (value, pivot_value) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                *value -= factor * pivot_value;
            }
            b[col + 1 + offset] -= factor * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let tail: f64 = (row + 1..n).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - tail) / a[row][row];
    }
    x
}

#[cfg(test)]
mod tests {
    #[test]
    fn solve_recovers_a_known_solution() {
        let a = vec![vec![0.0, 2.0, 1.0], vec![1.0, 1.0, 1.0], vec![4.0, -1.0, 2.0]];
        let x = [1.5, -2.0, 0.25];
        let b = a.iter().map(|row| row.iter().zip(&x).map(|(r, v)| r * v).sum()).collect();
        let solved = super::solve(a, b);
        for (s, v) in solved.iter().zip(x) {
            assert!((s - v).abs() < 1e-12);
        }
    }
}
