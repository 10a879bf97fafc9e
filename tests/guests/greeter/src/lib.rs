//! A responder of contract 0.5.0 that copies the customer's personal data
//! (granted `pii`) into everything a plugin leaves behind: a log line, a
//! state key, a message's variables and a queued message's variables, on
//! each event. What an erasure must find and remove.

wit_bindgen::generate!({
    path: "../../../wit/since_v0.5.0",
    world: "responder",
});

use clientele::crm::log::{self, Level};
use clientele::crm::state;
use clientele::crm::types::{Customer, Event, PluginError, StoreContext};
use exports::clientele::crm::reactions::{Action, Guest, Message, Timer, TimerRequest};

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct Greeter;

/// 2100-01-01T00:00:00Z.
const REMIND_AT: i64 = 4_102_444_800_000;

/// The customer's personal data, as one line.
fn who(c: &Customer) -> String {
    format!(
        "{} <{}> {}",
        c.name.clone().unwrap_or_default(),
        c.email.clone().unwrap_or_default(),
        c.phone.clone().unwrap_or_default()
    )
}

fn greet(template: &str, c: &Customer) -> Action {
    let vars = format!(
        r#"{{"name":{:?},"email":{:?},"line":{:?}}}"#,
        c.name.clone().unwrap_or_default(),
        c.email.clone().unwrap_or_default(),
        who(c)
    );
    Action::SendMessage(Message { channel: "email".into(), template: template.into(), vars })
}

impl Guest for Greeter {
    fn on_event(
        _ctx: StoreContext,
        _config: String,
        customer: Customer,
        event: Event,
    ) -> Result<Vec<Action>, PluginError> {
        log::write(Level::Info, &format!("greeting {} for {}", who(&customer), event.id));
        state::set("last-greeted", who(&customer).as_bytes()).map_err(|e| PluginError {
            code: "state".into(),
            message: e,
            retryable: false,
        })?;
        Ok(vec![
            greet("hello", &customer),
            // A reminder far ahead: still pending when the customer is erased.
            Action::SetTimer(TimerRequest {
                key: "remind".into(),
                at: REMIND_AT,
                payload: format!("{:?}", who(&customer)),
            }),
        ])
    }

    fn on_timer(
        _ctx: StoreContext,
        _config: String,
        customer: Customer,
        _timer: Timer,
    ) -> Result<Vec<Action>, PluginError> {
        Ok(vec![greet("reminder", &customer)])
    }
}

#[cfg(target_arch = "wasm32")]
export!(Greeter);
