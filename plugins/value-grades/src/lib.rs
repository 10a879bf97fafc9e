//! `value-grades`: customers graded by value (ABC or the customer pyramid),
//! as a `segmenter` component of contract 0.4.0. The fit reads each row's
//! net spend over the window from the host (`population.spend-within`),
//! grades the population and hands every row its grade itself (a grade is
//! a rank in the whole population, known only there); its model is the
//! grades' names. A grade is a ranking of the population as of the fit: on
//! an event between fits `classify` keeps the customer's fitted grade (read
//! back with `segments.of`), and a customer's first order is graded at the
//! next fit.

pub mod grades;

wit_bindgen::generate!({
    path: "../../wit/since_v0.4.0",
    world: "segmenter",
});

use clientele::crm::types::{Customer, Fitted, PluginError, Population, StoreContext};
use clientele::crm::{population, segments};
use exports::clientele::crm::segmentation::{Guest, Membership, Segmented};

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct ValueGrades;

impl Guest for ValueGrades {
    fn fit(
        _ctx: StoreContext,
        config: String,
        population: Population,
    ) -> Result<Segmented, PluginError> {
        let cfg = grades::Config::parse(&config).map_err(invalid_config)?;
        let spend = population::spend_within(cfg.window_days);
        if spend.len() != population.rows.len() {
            return Err(failed("host", "spend-within answered a list of another length".into()));
        }
        // Every customer with an order up to as-of is graded.
        let (rows, as_of) = (population.rows.len(), population.as_of);
        let graded: Vec<usize> = (0..rows).filter(|&i| population.rows[i].orders > 0).collect();
        // A million rows are a good part of the fit's memory: gone before
        // the memberships are made.
        drop(population);
        let values: Vec<i64> = graded.iter().map(|&i| spend[i]).collect();
        drop(spend);
        let (found, total) = grades::grade(&cfg, &values);
        let segments: Vec<String> = cfg.names().iter().map(|n| format!("grade:{n}")).collect();
        let mut memberships: Vec<Vec<Membership>> = Vec::with_capacity(rows);
        memberships.resize_with(rows, Vec::new);
        for ((&row, value), g) in graded.iter().zip(&values).zip(&found) {
            memberships[row] = vec![Membership {
                segment: segments[g.grade as usize].clone(),
                attributes: grades::attributes(*value, g.rank, total).to_string(),
            }];
        }
        let model = serde_json::json!({"names": cfg.names(), "as_of": as_of});
        Ok(Segmented {
            fitted: Fitted {
                model: model.to_string().into_bytes(),
                summary: grades::summary(&cfg, &values, &found, total).to_string(),
            },
            memberships: Some(memberships),
        })
    }

    fn classify(
        _ctx: StoreContext,
        config: String,
        _model: Vec<u8>,
        customer: Customer,
        _as_of: i64,
    ) -> Result<Vec<Membership>, PluginError> {
        // The grade the last fit gave, kept as it is until the next one.
        let cfg = grades::Config::parse(&config).map_err(invalid_config)?;
        let mine: Vec<String> = cfg.names().iter().map(|n| format!("grade:{n}")).collect();
        Ok(segments::of(&customer.id)
            .into_iter()
            .filter(|m| mine.contains(&m.segment))
            .take(1)
            .map(|m| Membership { segment: m.segment, attributes: m.attributes })
            .collect())
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
