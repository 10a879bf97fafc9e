//! The BG/NBD model (Fader, Hardie & Lee 2005, "Counting Your Customers
//! the Easy Way"): maximum-likelihood fit and P(alive).
//!
//! Per customer: `x` repeat purchases, `t_x` the time of the last one and
//! `T` the length of observation, both measured from the first purchase
//! (in weeks here). The fit maximises the sum of the paper's equation (6)
//! over customers with Nelder–Mead on the logarithms of (r, α, a, b), so
//! every parameter stays positive.

use serde::{Deserialize, Serialize};

/// Fitted parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Params {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

/// One customer's purchase history in model units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct History {
    /// Repeat purchases.
    pub x: u32,
    /// Weeks from the first to the last purchase.
    pub t_x: f64,
    /// Weeks from the first purchase to the end of observation.
    pub t: f64,
}

/// ln |Γ(x)| (libm's, as the special functions of a spend model need).
pub fn ln_gamma(x: f64) -> f64 {
    libm::lgamma(x)
}

/// The population reduced to distinct histories with their counts, and
/// the distinct `x` values (the Γ terms depend on `x` alone).
pub struct Data {
    groups: Vec<(History, f64)>,
    /// Index into `xs` for every group.
    x_index: Vec<usize>,
    xs: Vec<u32>,
    customers: f64,
}

impl Data {
    pub fn new(histories: impl IntoIterator<Item = History>) -> Data {
        use std::collections::BTreeMap;
        let mut counts: BTreeMap<(u32, u64, u64), f64> = BTreeMap::new();
        let mut customers = 0.0;
        for h in histories {
            *counts.entry((h.x, h.t_x.to_bits(), h.t.to_bits())).or_default() += 1.0;
            customers += 1.0;
        }
        let mut xs: Vec<u32> = counts.keys().map(|k| k.0).collect();
        xs.dedup();
        let groups: Vec<(History, f64)> = counts
            .into_iter()
            .map(|((x, tx, t), n)| {
                (History { x, t_x: f64::from_bits(tx), t: f64::from_bits(t) }, n)
            })
            .collect();
        let x_index =
            groups.iter().map(|(h, _)| xs.binary_search(&h.x).expect("x is listed")).collect();
        Data { groups, x_index, xs, customers }
    }

    pub fn customers(&self) -> usize {
        self.customers as usize
    }

    pub fn distinct(&self) -> usize {
        self.groups.len()
    }

    /// Customers with at least one repeat purchase.
    pub fn repeat_buyers(&self) -> usize {
        self.groups.iter().filter(|(h, _)| h.x > 0).map(|(_, n)| *n as usize).sum()
    }

    /// Each parameter's standard error at `p` (a maximum-likelihood
    /// optimum): the square roots of the diagonal of the inverse of the
    /// observed information matrix (minus the log-likelihood's Hessian,
    /// by central differences). `None` where the matrix is not positive
    /// definite, so no error can be given.
    pub fn standard_errors(&self, p: &Params) -> Option<Params> {
        let ll =
            |v: [f64; 4]| self.log_likelihood(&Params { r: v[0], alpha: v[1], a: v[2], b: v[3] });
        let [r, alpha, a, b] = standard_errors(ll, [p.r, p.alpha, p.a, p.b])?;
        Some(Params { r, alpha, a, b })
    }

    /// The log-likelihood of the whole population (equation 6, summed).
    pub fn log_likelihood(&self, p: &Params) -> f64 {
        let Params { r, alpha, a, b } = *p;
        let constant = -ln_gamma(r) + r * alpha.ln() + ln_gamma(a + b) - ln_gamma(b);
        let per_x: Vec<f64> = self
            .xs
            .iter()
            .map(|&x| {
                let x = f64::from(x);
                ln_gamma(r + x) + ln_gamma(b + x) - ln_gamma(a + b + x)
            })
            .collect();
        let mut total = 0.0;
        for ((h, n), &xi) in self.groups.iter().zip(&self.x_index) {
            let x = f64::from(h.x);
            let a3 = -(r + x) * (alpha + h.t).ln();
            let tail = if h.x > 0 {
                let a4 = a.ln() - (b + x - 1.0).ln() - (r + x) * (alpha + h.t_x).ln();
                let m = a3.max(a4);
                m + ((a3 - m).exp() + (a4 - m).exp()).ln()
            } else {
                a3
            };
            total += n * (constant + per_x[xi] + tail);
        }
        total
    }
}

/// The outcome of a fit.
#[derive(Debug, Clone, Copy)]
pub struct Fit {
    pub params: Params,
    pub log_likelihood: f64,
    pub iterations: u32,
}

/// Maximum-likelihood parameters. `progress` is called now and then with
/// the iteration count and the current log-likelihood.
pub fn fit(data: &Data, mut progress: impl FnMut(u32, f64)) -> Result<Fit, String> {
    if data.customers() < 2 {
        return Err(format!(
            "a BG/NBD fit needs at least 2 customers with an order; the population has {}",
            data.customers()
        ));
    }
    if data.groups.iter().all(|(h, _)| h.x == 0) {
        return Err("no customer has a repeat purchase yet: nothing to fit".into());
    }
    let objective = |theta: &[f64; 4]| {
        let p = Params {
            r: theta[0].exp(),
            alpha: theta[1].exp(),
            a: theta[2].exp(),
            b: theta[3].exp(),
        };
        let ll = data.log_likelihood(&p);
        if ll.is_finite() {
            -ll / data.customers
        } else {
            f64::INFINITY
        }
    };
    // Nelder–Mead, restarted from its own answer until a restart no longer
    // improves it (a single run can stall on a ridge).
    let mut start = [0.0; 4];
    let mut best = f64::INFINITY;
    let mut iterations = 0;
    for _ in 0..8 {
        let (theta, value, its) = nelder_mead(&objective, start, 1.0, 4000);
        iterations += its;
        progress(iterations, -value * data.customers);
        let improved = best - value;
        start = theta;
        best = best.min(value);
        if improved.abs() < 1e-12 {
            break;
        }
    }
    let params =
        Params { r: start[0].exp(), alpha: start[1].exp(), a: start[2].exp(), b: start[3].exp() };
    if ![params.r, params.alpha, params.a, params.b].iter().all(|v| v.is_finite() && *v > 0.0) {
        return Err("the fit did not converge to finite parameters".into());
    }
    Ok(Fit { params, log_likelihood: data.log_likelihood(&params), iterations })
}

/// The standard errors of a maximum-likelihood optimum `at` of `ll`: the
/// square roots of the diagonal of the inverse of the observed information
/// matrix (minus the Hessian of `ll`, by central differences). `None`
/// where the matrix is not positive definite, so no error can be given.
pub(crate) fn standard_errors<const N: usize>(
    ll: impl Fn([f64; N]) -> f64,
    at: [f64; N],
) -> Option<[f64; N]> {
    let h: [f64; N] = at.map(|v| v * 1e-3);
    let shifted = |i: usize, di: f64, j: usize, dj: f64| {
        let mut v = at;
        v[i] += di * h[i];
        v[j] += dj * h[j];
        ll(v)
    };
    let mut info = [[0.0; N]; N];
    for i in 0..N {
        for j in i..N {
            let second =
                (shifted(i, 1.0, j, 1.0) - shifted(i, 1.0, j, -1.0) - shifted(i, -1.0, j, 1.0)
                    + shifted(i, -1.0, j, -1.0))
                    / (4.0 * h[i] * h[j]);
            info[i][j] = -second;
            info[j][i] = -second;
        }
    }
    let inverse = invert(info)?;
    let mut se = [0.0; N];
    for i in 0..N {
        let v = inverse[i][i];
        if !v.is_finite() || v <= 0.0 {
            return None;
        }
        se[i] = v.sqrt();
    }
    Some(se)
}

/// The inverse of an N×N matrix by Gauss–Jordan elimination with partial
/// pivoting; `None` when it is singular.
pub(crate) fn invert<const N: usize>(mut m: [[f64; N]; N]) -> Option<[[f64; N]; N]> {
    let mut inv = [[0.0; N]; N];
    for (i, row) in inv.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    for col in 0..N {
        let pivot = (col..N).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))?;
        if m[pivot][col].abs() < 1e-300 {
            return None;
        }
        m.swap(col, pivot);
        inv.swap(col, pivot);
        let d = m[col][col];
        for k in 0..N {
            m[col][k] /= d;
            inv[col][k] /= d;
        }
        for row in 0..N {
            if row != col {
                let f = m[row][col];
                for k in 0..N {
                    m[row][k] -= f * m[col][k];
                    inv[row][k] -= f * inv[col][k];
                }
            }
        }
    }
    Some(inv)
}

/// Minimises `f` from `x0` with an initial simplex of side `step`.
pub(crate) fn nelder_mead<const N: usize>(
    f: &impl Fn(&[f64; N]) -> f64,
    x0: [f64; N],
    step: f64,
    max_iter: u32,
) -> ([f64; N], f64, u32) {
    let mut simplex: Vec<([f64; N], f64)> = Vec::with_capacity(N + 1);
    simplex.push((x0, f(&x0)));
    for i in 0..N {
        let mut x = x0;
        x[i] += step;
        simplex.push((x, f(&x)));
    }
    let mut it = 0;
    while it < max_iter {
        it += 1;
        simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        let (best, worst) = (simplex[0].1, simplex[N].1);
        let size = simplex[1..]
            .iter()
            .flat_map(|(x, _)| x.iter().zip(&simplex[0].0).map(|(a, b)| (a - b).abs()))
            .fold(0.0, f64::max);
        if (worst - best).abs() <= 1e-13 * (1.0 + best.abs()) && size < 1e-9 {
            break;
        }
        let mut centroid = [0.0; N];
        for (x, _) in &simplex[..N] {
            for j in 0..N {
                centroid[j] += x[j] / N as f64;
            }
        }
        let along = |t: f64| {
            let mut x = [0.0; N];
            for j in 0..N {
                x[j] = centroid[j] + t * (simplex[N].0[j] - centroid[j]);
            }
            x
        };
        let reflected = along(-1.0);
        let fr = f(&reflected);
        if fr < simplex[0].1 {
            let expanded = along(-2.0);
            let fe = f(&expanded);
            simplex[N] = if fe < fr { (expanded, fe) } else { (reflected, fr) };
        } else if fr < simplex[N - 1].1 {
            simplex[N] = (reflected, fr);
        } else {
            let (contracted, fc) = if fr < simplex[N].1 {
                let c = along(-0.5);
                (c, f(&c))
            } else {
                let c = along(0.5);
                (c, f(&c))
            };
            if fc < simplex[N].1.min(fr) {
                simplex[N] = (contracted, fc);
            } else {
                let x_best = simplex[0].0;
                for (x, fx) in simplex.iter_mut().skip(1) {
                    for j in 0..N {
                        x[j] = x_best[j] + 0.5 * (x[j] - x_best[j]);
                    }
                    *fx = f(x);
                }
            }
        }
    }
    simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
    (simplex[0].0, simplex[0].1, it)
}

/// P(alive | x, t_x, T) (equation 11 of the paper's note); 1 when x = 0.
pub fn p_alive(p: &Params, h: &History) -> f64 {
    if h.x == 0 {
        return 1.0;
    }
    let x = f64::from(h.x);
    let ln_ratio = (p.r + x) * ((p.alpha + h.t).ln() - (p.alpha + h.t_x).ln());
    let odds = (p.a / (p.b + x - 1.0)) * ln_ratio.exp();
    1.0 / (1.0 + odds)
}

/// E[Y(t) | x, t_x, T]: the purchases expected in the next `t` weeks of a
/// customer with history `h` (the paper's equation 10):
/// (a+b+x−1)/(a−1) · [1 − ((α+T)/(α+T+t))^(r+x) · ₂F₁(r+x, b+x; a+b+x−1; t/(α+T+t))]
/// ÷ [1 + 𝟙(x>0) · a/(b+x−1) · ((α+T)/(α+t_x))^(r+x)].
pub fn expected_purchases(p: &Params, h: &History, t: f64) -> f64 {
    if t <= 0.0 {
        return 0.0;
    }
    let x = f64::from(h.x);
    let (r, alpha, a, b) = (p.r, p.alpha, p.a, p.b);
    let z = t / (alpha + h.t + t);
    let hyp = hyp2f1(r + x, b + x, a + b + x - 1.0, z);
    let first = (a + b + x - 1.0) / (a - 1.0);
    let second = 1.0 - ((alpha + h.t) / (alpha + h.t + t)).powf(r + x) * hyp;
    let alive = if h.x > 0 {
        1.0 + a / (b + x - 1.0) * ((alpha + h.t) / (alpha + h.t_x)).powf(r + x)
    } else {
        1.0
    };
    first * second / alive
}

/// The Gauss hypergeometric function ₂F₁(a, b; c; z) for 0 ≤ z < 1, by its
/// series (summed until a term no longer changes the sum).
pub fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> f64 {
    let (mut term, mut sum) = (1.0f64, 1.0f64);
    for k in 0..200_000 {
        let k = f64::from(k);
        term *= (a + k) * (b + k) / ((c + k) * (k + 1.0)) * z;
        sum += term;
        if term.abs() <= 1e-16 * sum.abs() {
            break;
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_gamma_matches_known_values() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12 * (1.0 + b.abs());
        assert!(close(ln_gamma(1.0), 0.0));
        assert!(close(ln_gamma(2.0), 0.0));
        assert!(close(ln_gamma(5.0), 24f64.ln()));
        assert!(close(ln_gamma(0.5), std::f64::consts::PI.sqrt().ln()));
        // Γ(0.25) = 3.625609908221908...
        assert!(close(ln_gamma(0.25), 3.625_609_908_221_908_f64.ln()));
        // ln Γ(100) = 359.13420536957540
        assert!(close(ln_gamma(100.0), 359.134_205_369_575_4));
    }

    #[test]
    fn p_alive_by_hand() {
        let p = Params { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
        // x = 0 → alive.
        let h = History { x: 0, t_x: 0.0, t: 30.0 };
        assert_eq!(p_alive(&p, &h), 1.0);
        // x = 2, t_x = 30.43, T = 38.86:
        // odds = 0.793/3.426 · (43.274/34.844)^2.243
        let h = History { x: 2, t_x: 30.43, t: 38.86 };
        let odds = 0.793 / 3.426 * (43.274f64 / 34.844).powf(2.243);
        assert!((p_alive(&p, &h) - 1.0 / (1.0 + odds)).abs() < 1e-12);
        // The last purchase at the end of observation: odds = a/(b+x−1).
        let h = History { x: 1, t_x: 10.0, t: 10.0 };
        assert!((p_alive(&p, &h) - 1.0 / (1.0 + 0.793 / 2.426)).abs() < 1e-12);
    }

    #[test]
    fn single_customer_likelihood_by_hand() {
        let p = Params { r: 0.5, alpha: 2.0, a: 1.0, b: 3.0 };
        // x = 0, T = 4: L = (α/(α+T))^r = (2/6)^0.5.
        let d = Data::new([History { x: 0, t_x: 0.0, t: 4.0 }]);
        assert!((d.log_likelihood(&p) - (2.0f64 / 6.0).sqrt().ln()).abs() < 1e-12);
        // x = 1, t_x = 1, T = 4:
        // L = B(a,b+1)/B(a,b)·Γ(r+1)α^r/(Γ(r)(α+T)^(r+1))
        //   + B(a+1,b)/B(a,b)·Γ(r+1)α^r/(Γ(r)(α+t_x)^(r+1))
        // with B(1,4)/B(1,3) = 3/4, B(2,3)/B(1,3) = 1/4, Γ(1.5)/Γ(0.5) = 0.5.
        let d = Data::new([History { x: 1, t_x: 1.0, t: 4.0 }]);
        let common = 0.5 * 2f64.sqrt();
        let l = 0.75 * common / 6f64.powf(1.5) + 0.25 * common / 3f64.powf(1.5);
        assert!((d.log_likelihood(&p) - l.ln()).abs() < 1e-12);
    }

    /// The paper's CDNOW sample (2357 customers, weeks): its estimates are
    /// r = 0.243, α = 4.414, a = 0.793, b = 2.426 with LL = −9582.4.
    #[test]
    fn cdnow_fit_matches_the_paper() {
        let csv = include_str!("../tests/data/cdnow_summary.csv");
        let histories: Vec<History> = csv
            .lines()
            .skip(1)
            .map(|line| {
                let f: Vec<&str> = line.split(',').collect();
                History {
                    x: f[1].parse().unwrap(),
                    t_x: f[2].parse().unwrap(),
                    t: f[3].parse().unwrap(),
                }
            })
            .collect();
        assert_eq!(histories.len(), 2357);
        let data = Data::new(histories);
        let fit = fit(&data, |_, _| {}).unwrap();
        let p = fit.params;
        let within = |got: f64, want: f64| (got - want).abs() / want < 0.01;
        assert!(within(p.r, 0.243), "r = {}", p.r);
        assert!(within(p.alpha, 4.414), "alpha = {}", p.alpha);
        assert!(within(p.a, 0.793), "a = {}", p.a);
        assert!(within(p.b, 2.426), "b = {}", p.b);
        assert!((fit.log_likelihood + 9582.4).abs() < 0.1, "{}", fit.log_likelihood);
        // The standard errors other implementations give on this sample
        // (lifetimes' BetaGeoFitter: 0.0126, 0.378, 0.186, 0.705).
        let se = data.standard_errors(&p).unwrap();
        let near = |got: f64, want: f64| (got - want).abs() / want < 0.03;
        assert!(near(se.r, 0.0126), "se(r) = {}", se.r);
        assert!(near(se.alpha, 0.378), "se(alpha) = {}", se.alpha);
        assert!(near(se.a, 0.186), "se(a) = {}", se.a);
        assert!(near(se.b, 0.705), "se(b) = {}", se.b);
        assert_eq!(data.repeat_buyers(), 946, "the paper's 946 repeat buyers");
    }

    /// E[Y(t) | x, t_x, T] under the paper's CDNOW parameters, against
    /// what lifetimes' `BetaGeoFitter` (an independent implementation)
    /// answers for the same inputs.
    #[test]
    fn expected_purchases_match_an_independent_implementation() {
        let p = Params { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
        let cases = [
            (History { x: 2, t_x: 30.43, t: 38.86 }, 52.0, 1.558_720_806_432_097_2),
            (History { x: 0, t_x: 0.0, t: 38.86 }, 52.0, 0.252_073_022_282_450_4),
            (History { x: 1, t_x: 10.0, t: 10.0 }, 365.0 / 7.0, 2.172_359_342_790_838_5),
            (History { x: 7, t_x: 35.0, t: 39.0 }, 10.0, 1.309_536_654_852_503_4),
        ];
        for (h, t, want) in cases {
            let got = expected_purchases(&p, &h, t);
            assert!((got - want).abs() < 1e-6 * want, "{h:?} over {t}: {got} vs {want}");
        }
        assert_eq!(expected_purchases(&p, &cases[0].0, 0.0), 0.0);
    }

    #[test]
    fn inverts_a_matrix() {
        let m = [
            [4.0, 1.0, 0.0, 0.0],
            [1.0, 3.0, 0.0, 0.0],
            [0.0, 0.0, 2.0, 0.0],
            [0.0, 0.0, 0.0, 1.0],
        ];
        let inv = invert(m).unwrap();
        // [[4,1],[1,3]]⁻¹ = [[3,−1],[−1,4]] / 11.
        assert!((inv[0][0] - 3.0 / 11.0).abs() < 1e-12);
        assert!((inv[0][1] + 1.0 / 11.0).abs() < 1e-12);
        assert!((inv[2][2] - 0.5).abs() < 1e-12);
        assert!(invert([[0.0; 4]; 4]).is_none());
    }

    #[test]
    fn fit_refuses_too_little_data() {
        assert!(fit(&Data::new([]), |_, _| {}).is_err());
        let no_repeat = History { x: 0, t_x: 0.0, t: 5.0 };
        assert!(fit(&Data::new([no_repeat, no_repeat]), |_, _| {}).is_err());
    }
}
