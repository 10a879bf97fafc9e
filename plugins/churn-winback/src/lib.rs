//! `churn-winback`: BG/NBD churn risk and a win-back flow, as a
//! `churn-rescue` component.

pub mod bgnbd;
pub mod winback;

wit_bindgen::generate!({
    path: "../../wit/since_v0.1.0",
    world: "churn-rescue",
});

use clientele::crm::log::{self, Level};
use clientele::crm::types::{Customer, Fitted, Population};
use exports::clientele::crm::rescue::{Action, Assessment, FlowEnd, FlowState, Guest, Message};

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct ChurnWinback;

fn model_of(bytes: &[u8]) -> Result<Option<winback::Model>, String> {
    if bytes.is_empty() {
        return Ok(None);
    }
    serde_json::from_slice(bytes)
        .map(Some)
        .map_err(|e| format!("unreadable model: {e}"))
}

fn actions(list: Vec<winback::Action>) -> Vec<Action> {
    list.into_iter()
        .map(|a| match a {
            winback::Action::Send {
                channel,
                template,
                vars,
            } => Action::SendMessage(Message {
                channel,
                template,
                vars: vars.to_string(),
            }),
            winback::Action::Coupon(pct) => Action::GrantCoupon(pct),
            winback::Action::Schedule {
                after_seconds,
                step,
            } => Action::Schedule((after_seconds, step)),
            winback::Action::EndSkipped => Action::EndFlow(FlowEnd::Skipped),
            winback::Action::EndExpired => Action::EndFlow(FlowEnd::Expired),
        })
        .collect()
}

impl Guest for ChurnWinback {
    fn fit(config: String, population: Population) -> Result<Fitted, String> {
        winback::Config::parse(&config)?;
        let as_of = population.as_of;
        let data =
            bgnbd::Data::new(population.rows.iter().filter_map(|r| {
                winback::history(r.repeat_days, r.first_order, r.last_order, as_of)
            }));
        log::write(
            Level::Info,
            &format!(
                "fitting BG/NBD over {} customers ({} distinct histories)",
                data.customers(),
                data.distinct()
            ),
        );
        let fit = bgnbd::fit(&data, |iterations, ll| {
            log::write(
                Level::Info,
                &format!("fit progress: {iterations} iterations, log-likelihood {ll:.3}"),
            )
        })?;
        let model = winback::Model {
            params: fit.params,
            as_of,
            customers: data.customers(),
            log_likelihood: fit.log_likelihood,
            iterations: fit.iterations,
        };
        let summary = serde_json::json!({
            "model": "bg/nbd",
            "r": fit.params.r, "alpha": fit.params.alpha,
            "a": fit.params.a, "b": fit.params.b,
            "log_likelihood": fit.log_likelihood,
            "customers": data.customers(),
            "iterations": fit.iterations,
        });
        Ok(Fitted {
            model: serde_json::to_vec(&model).map_err(|e| e.to_string())?,
            summary: summary.to_string(),
        })
    }

    fn assess(
        _config: String,
        model: Vec<u8>,
        customer: Customer,
        as_of: i64,
    ) -> Result<Assessment, String> {
        let model = model_of(&model)?;
        let s = &customer.stats;
        let h = winback::history(s.repeat_days, s.first_order_at, s.last_order_at, as_of);
        let a = winback::assess(model.as_ref(), h);
        Ok(Assessment {
            p_alive: a.p_alive,
            risk: 1.0 - a.p_alive,
            value_cents: s.net_spend_cents,
            details: a.details.to_string(),
        })
    }

    fn plan(
        config: String,
        assessment: Assessment,
        _customer: Customer,
    ) -> Result<Vec<Action>, String> {
        let cfg = winback::Config::parse(&config)?;
        Ok(actions(winback::plan(
            &cfg,
            assessment.p_alive,
            assessment.value_cents,
        )))
    }

    fn on_timer(
        config: String,
        _customer: Customer,
        flow: FlowState,
    ) -> Result<Vec<Action>, String> {
        let cfg = winback::Config::parse(&config)?;
        Ok(actions(winback::on_timer(&cfg, flow.step)))
    }
}

#[cfg(target_arch = "wasm32")]
export!(ChurnWinback);
