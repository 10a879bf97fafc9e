//! `loyalty-types`: attitude × behaviour loyalty types, as a `segmenter`
//! component of contract 0.4.0 (capability `surveys`). The type needs no
//! model. A fit types every row at once from what the host counts for the
//! whole population (`population.orders-within`,
//! `surveys.latest-of-population`); on each of a customer's events
//! `classify` reads their own latest answers (`surveys.latest`) and recent
//! orders (`customers.orders`).

pub mod loyalty;

wit_bindgen::generate!({
    path: "../../wit/since_v0.4.0",
    world: "segmenter",
});

use clientele::crm::types::{Customer, Fitted, PluginError, Population, StoreContext};
use clientele::crm::{customers, population, surveys};
use exports::clientele::crm::segmentation::{Guest, Membership, Segmented};

/// The most orders `customers.orders` answers; a window with more orders
/// than this counts this many, which is repeat patronage under any
/// allowed `repeat_orders`.
const ORDERS_READ: u32 = 100;

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct LoyaltyTypes;

impl Guest for LoyaltyTypes {
    fn fit(
        _ctx: StoreContext,
        config: String,
        population: Population,
    ) -> Result<Segmented, PluginError> {
        let cfg = loyalty::Config::parse(&config).map_err(invalid_config)?;
        let rows = population.rows.len();
        let counts = population::orders_within(cfg.window_days);
        let latest = surveys::latest_of_population(&cfg.kinds());
        if counts.len() != rows || latest.len() != rows {
            return Err(PluginError {
                code: "host".into(),
                message: "the population's counts or answers came in another length".into(),
                retryable: false,
            });
        }
        let mut types = std::collections::BTreeMap::<String, usize>::new();
        let memberships: Vec<Vec<Membership>> = counts
            .into_iter()
            .zip(latest)
            .map(|(n, answer)| {
                let answer: Vec<loyalty::Answer> = answer.into_iter().map(answer_of).collect();
                let (segment, attributes) = loyalty::loyalty_type(&cfg, &answer, n);
                *types.entry(segment.clone()).or_default() += 1;
                vec![Membership { segment, attributes: attributes.to_string() }]
            })
            .collect();
        let summary = serde_json::json!({
            "customers": rows,
            "types": types,
            "window_days": cfg.window_days,
            "repeat_orders": cfg.repeat_orders,
            "kinds": cfg.kinds(),
        });
        Ok(Segmented {
            fitted: Fitted { model: Vec::new(), summary: summary.to_string() },
            memberships: Some(memberships),
        })
    }

    fn classify(
        _ctx: StoreContext,
        config: String,
        _model: Vec<u8>,
        customer: Customer,
        as_of: i64,
    ) -> Result<Vec<Membership>, PluginError> {
        let cfg = loyalty::Config::parse(&config).map_err(invalid_config)?;
        let placed: Vec<i64> =
            customers::orders(&customer.id, ORDERS_READ).iter().map(|o| o.placed_at).collect();
        let in_window = loyalty::orders_in_window(&cfg, &placed, as_of);
        let latest: Vec<loyalty::Answer> = surveys::latest(&customer.id, &cfg.kinds())
            .into_iter()
            .filter(|a| a.submitted_at <= as_of)
            .map(answer_of)
            .collect();
        let (segment, attributes) = loyalty::loyalty_type(&cfg, &latest, in_window);
        Ok(vec![Membership { segment, attributes: attributes.to_string() }])
    }
}

fn answer_of(a: surveys::ScoredAnswer) -> loyalty::Answer {
    loyalty::Answer {
        survey_id: a.survey_id,
        kind: a.kind,
        submitted_at: a.submitted_at,
        answers: serde_json::from_str(&a.answers).unwrap_or_default(),
    }
}

fn invalid_config(message: String) -> PluginError {
    PluginError { code: "invalid-config".into(), message, retryable: false }
}

#[cfg(target_arch = "wasm32")]
export!(LoyaltyTypes);
