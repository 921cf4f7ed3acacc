//! UniPC: the unified predictor-corrector multistep solver (Zhao et al. 2023), `bh2` variant.

use std::collections::VecDeque;

use burn::tensor::Tensor;
use tenku_core::{ModelFn, NoiseLevel, NoiseSource, Sampler, Schedule};

use crate::coords::{lambda, solve};

/// UniPC in data-prediction form with the `bh2` weights, as diffusers'
/// `UniPCMultistepScheduler` (`predict_x0=True`, `solver_type="bh2"`, `lower_order_final=True`).
///
/// Order 1 to 3. The corrector (UniC) refines each new sample with the model output just
/// computed at it, at no extra model call; it can be switched off.
#[derive(Clone, Debug)]
pub struct UniPc {
    order: usize,
    corrector: bool,
    /// The last `order` data estimates with their λ, newest last.
    history: VecDeque<(Tensor<5>, f64)>,
    /// The sample the previous predictor started from and the order it used.
    last: Option<(Tensor<5>, usize)>,
}

impl UniPc {
    /// UniPC of `order` (1, 2 or 3), with or without the corrector.
    ///
    /// # Panics
    /// If `order` is not 1, 2 or 3.
    pub fn new(order: usize, corrector: bool) -> Self {
        assert!((1..=3).contains(&order), "UniPC order must be 1, 2 or 3, got {order}");
        Self { order, corrector, history: VecDeque::new(), last: None }
    }

    /// The solver order.
    pub fn order(&self) -> usize {
        self.order
    }

    /// Weights `(B(h), hφ₁, ρ)` for one update of `order` whose step has log-SNR gap `h` and
    /// history ratios `rks`; `rhos` solves the full system (corrector) or, for the predictor, all
    /// but the newest row, with diffusers' fixed ρ = ½ at order 2.
    fn weights(h: f64, rks: &[f64], order: usize, corrector: bool) -> (f64, f64, Vec<f64>) {
        let hh = -h;
        let h_phi_1 = hh.exp_m1();
        let b_h = hh.exp_m1();
        let mut rks = rks.to_vec();
        rks.push(1.0);
        let mut rows = Vec::with_capacity(order);
        let mut b = Vec::with_capacity(order);
        let mut h_phi_k = h_phi_1 / hh - 1.0;
        let mut factorial = 1.0;
        for k in 1..=order {
            rows.push(rks.iter().map(|r| r.powi(k as i32 - 1)).collect::<Vec<f64>>());
            b.push(h_phi_k * factorial / b_h);
            factorial *= (k + 1) as f64;
            h_phi_k = h_phi_k / hh - 1.0 / factorial;
        }
        let rhos = match (corrector, order) {
            (true, 1) => vec![0.5],
            (true, _) => solve(rows, b),
            (false, 1) => Vec::new(),
            (false, 2) => vec![0.5],
            (false, _) => {
                let n = order - 1;
                solve(rows[..n].iter().map(|row| row[..n].to_vec()).collect(), b[..n].to_vec())
            }
        };
        (b_h, h_phi_1, rhos)
    }

    /// One update from `source` to `target` with the newest `order` data estimates (m0 = the
    /// newest): `(σ_t/σ_s)·x − α_t·hφ₁·m0 − α_t·B(h)·Σ ρ_k·D_k`. With `corrected_by = Some(m_t)`
    /// this is the corrector UniC, whose last term uses `m_t − m0`; otherwise the predictor UniP.
    fn update(
        &self,
        x: Tensor<5>,
        source: &NoiseLevel,
        target: &NoiseLevel,
        order: usize,
        corrected_by: Option<Tensor<5>>,
    ) -> Tensor<5> {
        let (m0, _) = self.history.back().expect("an update needs at least one data estimate");
        let h = lambda(target) - lambda(source);
        let (rks, differences): (Vec<f64>, Vec<Tensor<5>>) = (1..order)
            .map(|k| {
                let (m_k, lambda_k) = &self.history[self.history.len() - 1 - k];
                let rk = (lambda_k - lambda(source)) / h;
                (rk, (m_k.clone() - m0.clone()) / rk)
            })
            .unzip();
        let (b_h, h_phi_1, rhos) = Self::weights(h, &rks, order, corrected_by.is_some());
        let mut out = x * (target.sigma / source.sigma) - m0.clone() * (target.alpha * h_phi_1);
        for (difference, rho) in differences.into_iter().zip(&rhos) {
            out = out - difference * (target.alpha * b_h * rho);
        }
        if let Some(m_t) = corrected_by {
            out = out - (m_t - m0.clone()) * (target.alpha * b_h * rhos[order - 1]);
        }
        out
    }
}

impl Sampler for UniPc {
    fn name(&self) -> &str {
        "unipc"
    }

    fn reset(&mut self) {
        self.history.clear();
        self.last = None;
    }

    fn step(
        &mut self,
        model: &mut dyn ModelFn,
        x: Tensor<5>,
        schedule: &Schedule,
        i: usize,
        _noise: &mut dyn NoiseSource,
    ) -> Tensor<5> {
        let levels = &schedule.levels;
        let m_new = model.x0(x.clone(), &levels[i]);

        // UniC: correct x_i with the model output at x_i, before it joins the history.
        let mut x = x;
        if let Some((last_sample, last_order)) = self.last.take()
            && self.corrector
        {
            x = self.update(last_sample, &levels[i - 1], &levels[i], last_order, Some(m_new.clone()));
        }

        self.history.push_back((m_new, lambda(&levels[i])));
        while self.history.len() > self.order {
            self.history.pop_front();
        }
        let mut order = self.order.min(schedule.steps() - i).min(self.history.len());
        if levels[i + 1].sigma == 0.0 {
            // λ = ∞ at σ = 0: only the first-order update is defined, and it returns x0 exactly.
            order = 1;
        }
        self.last = Some((x.clone(), order));
        // UniP: predict x_{i+1} from the corrected x_i.
        self.update(x, &levels[i], &levels[i + 1], order, None)
    }
}
