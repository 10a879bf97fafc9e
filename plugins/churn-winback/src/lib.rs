//! `churn-winback`: BG/NBD churn risk and a win-back flow, as a
//! `churn-rescue` component.

pub mod bgnbd;
pub mod winback;

wit_bindgen::generate!({
    path: "../../wit/since_v0.2.0",
    world: "churn-rescue",
});

use clientele::crm::log::{self, Level};
use clientele::crm::types::{Customer, Fitted, PluginError, Population, StoreContext};
use exports::clientele::crm::rescue::{
    Action, Assessment, FlowEnd, FlowState, FlowStatus, FlowSummary, Guest, Message,
};

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct ChurnWinback;

fn failed(code: &str, message: String) -> PluginError {
    PluginError { code: code.into(), message, retryable: false }
}

fn config(json: &str) -> Result<winback::Config, PluginError> {
    winback::Config::parse(json).map_err(|m| failed("invalid-config", m))
}

fn model_of(bytes: &[u8]) -> Result<Option<winback::Model>, PluginError> {
    if bytes.is_empty() {
        return Ok(None);
    }
    serde_json::from_slice(bytes)
        .map(Some)
        .map_err(|e| failed("model", format!("unreadable model: {e}")))
}

fn actions(list: Vec<winback::Action>) -> Vec<Action> {
    list.into_iter()
        .map(|a| match a {
            winback::Action::Send { channel, template, vars } => {
                Action::SendMessage(Message { channel, template, vars: vars.to_string() })
            }
            winback::Action::Coupon(pct) => Action::GrantCoupon(pct),
            winback::Action::Schedule { after_seconds, step } => {
                Action::Schedule((after_seconds, step))
            }
            winback::Action::EndSkipped => Action::EndFlow(FlowEnd::Skipped),
            winback::Action::EndExpired => Action::EndFlow(FlowEnd::Expired),
        })
        .collect()
}

impl Guest for ChurnWinback {
    fn fit(
        _ctx: StoreContext,
        config_json: String,
        population: Population,
    ) -> Result<Fitted, PluginError> {
        let cfg = config(&config_json)?;
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
        // Too few customers make a confident nonsense of a model (a = 9.7
        // million on six customers): refuse, and the model before stays.
        let (customers, repeaters) = (data.customers(), data.repeat_buyers());
        if customers < cfg.min_customers || repeaters < cfg.min_repeat_buyers {
            return Err(failed(
                "too-little-data",
                format!(
                    "refused: {customers} customers with an order and {repeaters} with a repeat \
                     purchase; a fit needs at least {} and {} (config `min_customers`, \
                     `min_repeat_buyers`)",
                    cfg.min_customers, cfg.min_repeat_buyers
                ),
            ));
        }
        let fit = bgnbd::fit(&data, |iterations, ll| {
            log::write(
                Level::Info,
                &format!("fit progress: {iterations} iterations, log-likelihood {ll:.3}"),
            )
        })
        .map_err(|m| failed("fit", m))?;
        let model = winback::Model {
            params: fit.params,
            as_of,
            customers: data.customers(),
            log_likelihood: fit.log_likelihood,
            iterations: fit.iterations,
        };
        let se = data.standard_errors(&fit.params);
        let summary = serde_json::json!({
            "model": "bg/nbd",
            "r": fit.params.r, "alpha": fit.params.alpha,
            "a": fit.params.a, "b": fit.params.b,
            "standard_errors": se.map(|e| serde_json::json!(
                {"r": e.r, "alpha": e.alpha, "a": e.a, "b": e.b})),
            "log_likelihood": fit.log_likelihood,
            "customers": customers,
            "repeat_buyers": repeaters,
            "iterations": fit.iterations,
        });
        Ok(Fitted {
            model: serde_json::to_vec(&model).map_err(|e| failed("model", e.to_string()))?,
            summary: summary.to_string(),
        })
    }

    fn assess(
        _ctx: StoreContext,
        _config: String,
        model: Vec<u8>,
        customer: Customer,
        as_of: i64,
    ) -> Result<Assessment, PluginError> {
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
        ctx: StoreContext,
        config_json: String,
        assessment: Assessment,
        _customer: Customer,
        current: Option<FlowSummary>,
    ) -> Result<Vec<Action>, PluginError> {
        let cfg = config(&config_json)?;
        // A flow that ended rescued or expired holds off the next one for
        // `cooldown_days` (none by default).
        let ended = current.and_then(|f| match f.status {
            FlowStatus::Rescued | FlowStatus::Expired => f.ended_at,
            FlowStatus::Active | FlowStatus::Skipped => None,
        });
        if winback::cooling_down(&cfg, ended, ctx.at) {
            return Ok(Vec::new());
        }
        Ok(actions(winback::plan(&cfg, assessment.p_alive, assessment.value_cents)))
    }

    fn on_timer(
        _ctx: StoreContext,
        config_json: String,
        _customer: Customer,
        flow: FlowState,
    ) -> Result<Vec<Action>, PluginError> {
        let cfg = config(&config_json)?;
        Ok(actions(winback::on_timer(&cfg, flow.step)))
    }
}

#[cfg(target_arch = "wasm32")]
export!(ChurnWinback);
