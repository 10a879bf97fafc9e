//! The Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV:
//! Using Iso-Value Curves for Customer Base Analysis"): a customer's
//! spend per purchase is gamma(p, ν) around their own mean, and ν is
//! gamma(q, v) across customers. Fitted by maximum likelihood over the
//! customers with at least one repeat purchase, from x (repeat purchase
//! days) and m (the mean spend of those days).
//!
//! Per customer: ln f(m | p, q, v, x) = ln Γ(px+q) − ln Γ(px) − ln Γ(q)
//! + q ln v + (px−1) ln m + px ln x − (px+q) ln(v + x·m).

use serde::{Deserialize, Serialize};

use crate::bgnbd::{ln_gamma, nelder_mead, standard_errors};

/// Fitted parameters; `v` is in the unit of the spends fitted (cents).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Params {
    pub p: f64,
    pub q: f64,
    pub v: f64,
}

impl Params {
    /// E(M | x, m): the expected spend per purchase of a customer with x
    /// repeat purchases of mean m: p(v + x·m) / (px + q − 1).
    pub fn expected_spend(&self, x: u32, m: f64) -> f64 {
        let x = f64::from(x);
        self.p * (self.v + x * m) / (self.p * x + self.q - 1.0)
    }

    /// The population's mean spend per purchase, pv / (q − 1), what a
    /// customer without a repeat purchase is expected to spend; `None`
    /// when q ≤ 1 leaves it without a finite mean.
    pub fn population_mean(&self) -> Option<f64> {
        (self.q > 1.0).then(|| self.p * self.v / (self.q - 1.0))
    }
}

/// The customers a fit is over, reduced to what the likelihood needs: the
/// Γ terms per distinct x, the sums that do not involve the parameters,
/// and (x, m) for the one term that involves v.
pub struct Data {
    /// (x, m) of every customer with x ≥ 1 and m > 0.
    rows: Vec<(f64, f64)>,
    /// Distinct x with how many customers have it.
    xs: Vec<(f64, f64)>,
    /// Σ x·ln m, Σ ln m and Σ x·ln x.
    x_ln_m: f64,
    ln_m: f64,
    x_ln_x: f64,
}

impl Data {
    /// From (x, total spend of the x repeat days) pairs; customers without
    /// a repeat day or with no spend on them are left out.
    pub fn new(customers: impl IntoIterator<Item = (u32, i64)>) -> Data {
        let mut rows = Vec::new();
        let mut counts = std::collections::BTreeMap::<u32, f64>::new();
        let (mut x_ln_m, mut ln_m, mut x_ln_x) = (0.0, 0.0, 0.0);
        for (x, spend) in customers {
            if x == 0 || spend <= 0 {
                continue;
            }
            let xf = f64::from(x);
            let m = spend as f64 / xf;
            rows.push((xf, m));
            *counts.entry(x).or_default() += 1.0;
            x_ln_m += xf * m.ln();
            ln_m += m.ln();
            x_ln_x += xf * xf.ln();
        }
        let xs = counts.into_iter().map(|(x, n)| (f64::from(x), n)).collect();
        Data { rows, xs, x_ln_m, ln_m, x_ln_x }
    }

    /// Customers the model is fitted on.
    pub fn customers(&self) -> usize {
        self.rows.len()
    }

    /// The mean of the customers' m.
    pub fn mean_spend(&self) -> f64 {
        self.rows.iter().map(|(_, m)| m).sum::<f64>() / self.rows.len().max(1) as f64
    }

    pub fn log_likelihood(&self, p: &Params) -> f64 {
        let Params { p, q, v } = *p;
        let n = self.rows.len() as f64;
        let gammas: f64 =
            self.xs.iter().map(|(x, k)| k * (ln_gamma(p * x + q) - ln_gamma(p * x))).sum();
        let tail: f64 = self.rows.iter().map(|(x, m)| (p * x + q) * (v + x * m).ln()).sum();
        gammas - n * ln_gamma(q) + n * q * v.ln() + p * self.x_ln_m - self.ln_m + p * self.x_ln_x
            - tail
    }

    /// Each parameter's standard error at the optimum `p`.
    pub fn standard_errors(&self, p: &Params) -> Option<Params> {
        let ll = |t: [f64; 3]| self.log_likelihood(&Params { p: t[0], q: t[1], v: t[2] });
        let [p, q, v] = standard_errors(ll, [p.p, p.q, p.v])?;
        Some(Params { p, q, v })
    }
}

/// Maximum-likelihood parameters (Nelder–Mead on their logarithms, so
/// each stays positive, restarted until a restart no longer improves).
pub fn fit(data: &Data) -> Result<Params, String> {
    if data.customers() < 2 {
        return Err(format!(
            "a Gamma-Gamma fit needs at least 2 customers with a repeat purchase; there are {}",
            data.customers()
        ));
    }
    let n = data.customers() as f64;
    let objective = |t: &[f64; 3]| {
        let ll = data.log_likelihood(&Params { p: t[0].exp(), q: t[1].exp(), v: t[2].exp() });
        if ll.is_finite() {
            -ll / n
        } else {
            f64::INFINITY
        }
    };
    let mut start = [0.0, 0.0, data.mean_spend().max(1e-9).ln()];
    let mut best = f64::INFINITY;
    for _ in 0..8 {
        let (theta, value, _) = nelder_mead(&objective, start, 1.0, 4000);
        let improved = best - value;
        start = theta;
        best = best.min(value);
        if improved.abs() < 1e-12 {
            break;
        }
    }
    let params = Params { p: start[0].exp(), q: start[1].exp(), v: start[2].exp() };
    if ![params.p, params.q, params.v].iter().all(|v| v.is_finite() && *v > 0.0) {
        return Err("the spend model did not converge to finite parameters".into());
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_customers_likelihood_by_hand() {
        // x = 2, m = 3 (spend 6), p = 2, q = 3, v = 4:
        // Γ(7)/(Γ(4)Γ(3)) · 4³ · 3³ · 2⁴ / (4 + 6)⁷ = 60 · 64 · 27 · 16 / 10⁷.
        let d = Data::new([(2, 6)]);
        let want = (60.0f64 * 64.0 * 27.0 * 16.0 / 1e7).ln();
        let got = d.log_likelihood(&Params { p: 2.0, q: 3.0, v: 4.0 });
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        assert_eq!(Data::new([(0, 100), (3, 0)]).customers(), 0, "no repeat day, no spend");
    }

    #[test]
    fn conditional_and_population_means_by_hand() {
        let p = Params { p: 6.25, q: 3.74, v: 15.44 };
        // pv/(q−1) = 96.5 / 2.74.
        assert!((p.population_mean().unwrap() - 96.5 / 2.74).abs() < 1e-12);
        // x = 2, m = 20: 6.25 · (15.44 + 40) / (12.5 + 2.74).
        assert!((p.expected_spend(2, 20.0) - 6.25 * 55.44 / 15.24).abs() < 1e-12);
        assert_eq!(Params { q: 1.0, ..p }.population_mean(), None);
    }

    /// The paper's CDNOW sample: 946 customers with a repeat purchase and
    /// their mean repeat spend in dollars (`zbar`), for which it gives
    /// p = 6.25, q = 3.74, v = 15.44 (fitted here in cents: v = 1,544).
    #[test]
    fn cdnow_fit_matches_the_paper() {
        let csv = include_str!("../tests/data/cdnow_summary.csv");
        let rows: Vec<(u32, f64)> = csv
            .lines()
            .skip(1)
            .map(|line| {
                let f: Vec<&str> = line.split(',').collect();
                (f[1].parse().unwrap(), f[4].parse().unwrap())
            })
            .collect();
        let within = |got: f64, want: f64| (got - want).abs() / want < 0.01;
        // Spends summed over the repeat days, in cents, as the host gives them.
        let data = Data::new(
            rows.iter().map(|(x, zbar)| (*x, (zbar * f64::from(*x) * 100.0).round() as i64)),
        );
        assert_eq!(data.customers(), 946);
        let got = fit(&data).unwrap();
        assert!(within(got.p, 6.25), "p = {}", got.p);
        assert!(within(got.q, 3.74), "q = {}", got.q);
        assert!(within(got.v / 100.0, 15.44), "v = {} cents", got.v);
        let se = data.standard_errors(&got).unwrap();
        assert!(se.p > 0.0 && se.q > 0.0 && se.v > 0.0, "{se:?}");
    }
}
