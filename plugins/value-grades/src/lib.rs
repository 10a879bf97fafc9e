//! `value-grades`: customers graded by value (ABC or the customer pyramid),
//! as a `segmenter` component of contract 0.3.0. The fit reads each row's
//! net spend over the window from the host (`population.spend-within`),
//! grades the population and keeps every graded customer's grade in its
//! model; `classify` looks the customer up. A grade is a ranking of the
//! population as of the fit: an event between fits keeps the fitted
//! grade, and a customer's first order is graded at the next fit.

pub mod grades;
pub mod table;

wit_bindgen::generate!({
    path: "../../wit/since_v0.3.0",
    world: "segmenter",
});

use clientele::crm::population;
use clientele::crm::types::{Customer, Fitted, PluginError, Population, StoreContext};
use exports::clientele::crm::segmentation::{Guest, Membership};

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct ValueGrades;

impl Guest for ValueGrades {
    fn fit(
        _ctx: StoreContext,
        config: String,
        population: Population,
    ) -> Result<Fitted, PluginError> {
        let cfg = grades::Config::parse(&config).map_err(invalid_config)?;
        let spend = population::spend_within(cfg.window_days);
        if spend.len() != population.rows.len() {
            return Err(failed("host", "spend-within answered a list of another length".into()));
        }
        // Every customer with an order up to as-of is graded.
        let (ids, values): (Vec<&str>, Vec<i64>) = population
            .rows
            .iter()
            .zip(&spend)
            .filter(|(r, _)| r.orders > 0)
            .map(|(r, v)| (r.customer_id.as_str(), *v))
            .unzip();
        let (graded, total) = grades::grade(&cfg, &values);
        let header =
            table::Header { as_of: population.as_of, names: cfg.names(), total_cents: total };
        let rows = ids
            .iter()
            .zip(values.iter().zip(&graded))
            .map(|(id, (v, g))| {
                (*id, table::Entry { value_cents: *v, rank: g.rank, grade: g.grade })
            })
            .collect();
        Ok(Fitted {
            model: table::encode(&header, rows),
            summary: grades::summary(&cfg, &values, &graded, total).to_string(),
        })
    }

    fn classify(
        _ctx: StoreContext,
        _config: String,
        model: Vec<u8>,
        customer: Customer,
        _as_of: i64,
    ) -> Result<Vec<Membership>, PluginError> {
        if model.is_empty() {
            return Ok(Vec::new());
        }
        let t = table::Table::read(&model).map_err(|m| failed("model", m))?;
        let Some(e) = t.find(&customer.id) else {
            return Ok(Vec::new());
        };
        let name = t.header.names.get(e.grade as usize).ok_or_else(|| {
            failed("model", "unreadable model: a grade out of range; refit the store".into())
        })?;
        Ok(vec![Membership {
            segment: format!("grade:{name}"),
            attributes: grades::attributes(e.value_cents, e.rank, t.header.total_cents).to_string(),
        }])
    }
}

fn failed(code: &str, message: String) -> PluginError {
    PluginError { code: code.into(), message, retryable: false }
}

fn invalid_config(message: String) -> PluginError {
    failed("invalid-config", message)
}

#[cfg(target_arch = "wasm32")]
export!(ValueGrades);
