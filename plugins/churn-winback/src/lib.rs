//! `churn-winback`: BG/NBD churn risk, Gamma-Gamma spend and CLV, and a
//! win-back flow, as a `churn-rescue` component of contract 0.3.0 (the fit
//! reads each row's repeat-day spend from `population`).

pub mod bgnbd;
pub mod gamma_gamma;
pub mod winback;

wit_bindgen::generate!({
    path: "../../wit/since_v0.3.0",
    world: "churn-rescue",
});

use clientele::crm::log::{self, Level};
use clientele::crm::types::{Customer, Fitted, PluginError, Population, StoreContext};
use clientele::crm::{customers, population};

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
        ctx: StoreContext,
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
        let spend = spend_data(&population)?;
        if spend.customers() < cfg.min_repeat_buyers {
            return Err(failed(
                "too-little-data",
                format!(
                    "refused: {} customers with spend on a repeat purchase day; the spend model \
                     needs at least {} (config `min_repeat_buyers`)",
                    spend.customers(),
                    cfg.min_repeat_buyers
                ),
            ));
        }
        let gg = gamma_gamma::fit(&spend).map_err(|m| failed("fit", m))?;
        let model = winback::Model {
            params: fit.params,
            as_of,
            customers: data.customers(),
            log_likelihood: fit.log_likelihood,
            iterations: fit.iterations,
            spend: Some(gg),
            mean_spend_cents: spend.mean_spend(),
        };
        let se = data.standard_errors(&fit.params);
        let gg_se = spend.standard_errors(&gg);
        let major = 10f64.powi(minor_digits(&ctx.currency));
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
            "spend_model": "gamma-gamma",
            "p": gg.p, "q": gg.q, "v": gg.v / major, "v_cents": gg.v,
            "spend_standard_errors": gg_se.map(|e| serde_json::json!(
                {"p": e.p, "q": e.q, "v": e.v / major})),
            "spend_customers": spend.customers(),
            "mean_spend_cents": gg.population_mean(),
        });
        Ok(Fitted {
            model: serde_json::to_vec(&model).map_err(|e| failed("model", e.to_string()))?,
            summary: summary.to_string(),
        })
    }

    fn assess(
        _ctx: StoreContext,
        config_json: String,
        model: Vec<u8>,
        customer: Customer,
        as_of: i64,
    ) -> Result<Assessment, PluginError> {
        let cfg = config(&config_json)?;
        let model = model_of(&model)?;
        let s = &customer.stats;
        let h = winback::history(s.repeat_days, s.first_order_at, s.last_order_at, as_of);
        let wants_spend = model.as_ref().is_some_and(|m| m.spend.is_some()) && s.repeat_days > 0;
        let mean = if wants_spend { repeat_day_mean(&customer, as_of) } else { None };
        let a = winback::assess(&cfg, model.as_ref(), h, mean);
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
        let details = serde_json::from_str(&assessment.details).unwrap_or_default();
        Ok(actions(winback::plan(&cfg, assessment.p_alive, assessment.value_cents, &details)))
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

/// The spend model's data: each row's repeat purchase days and the spend
/// on them, summed by the host.
fn spend_data(population: &Population) -> Result<gamma_gamma::Data, PluginError> {
    let spend = population::repeat_day_spend();
    if spend.len() != population.rows.len() {
        return Err(failed("host", "repeat-day-spend answered a list of another length".into()));
    }
    Ok(gamma_gamma::Data::new(population.rows.iter().zip(spend).map(|(r, s)| (r.repeat_days, s))))
}

/// The most orders `assess` reads of a customer.
const ORDERS_READ: u32 = 100;

/// The customer's mean spend per repeat purchase day up to `as_of`: the
/// order totals of each UTC day after their first purchase day, summed by
/// day, averaged over those days. Read from their latest 100 orders, so a
/// customer with more averages their latest repeat days.
fn repeat_day_mean(customer: &Customer, as_of: i64) -> Option<f64> {
    const DAY_MS: i64 = 86_400_000;
    let first = customer.stats.first_order_at?.div_euclid(DAY_MS);
    let mut days = std::collections::BTreeMap::<i64, i64>::new();
    for o in customers::orders(&customer.id, ORDERS_READ) {
        let day = o.placed_at.div_euclid(DAY_MS);
        if o.placed_at <= as_of && day > first {
            *days.entry(day).or_default() += o.total_cents;
        }
    }
    (!days.is_empty()).then(|| days.values().sum::<i64>() as f64 / days.len() as f64)
}

/// Digits after the decimal point of a currency's major unit (ISO 4217).
fn minor_digits(currency: &str) -> i32 {
    const NONE: [&str; 17] = [
        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
        "VUV", "XAF", "XOF", "XPF",
    ];
    const THREE: [&str; 7] = ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];
    if NONE.contains(&currency) {
        0
    } else if THREE.contains(&currency) {
        3
    } else {
        2
    }
}

#[cfg(target_arch = "wasm32")]
export!(ChurnWinback);
