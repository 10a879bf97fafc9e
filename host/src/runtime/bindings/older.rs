//! What every rung older than the newest shares: its host interfaces of
//! the 0.1.0/0.2.0 shape forwarded to the newest's (`forward_host!`), and
//! its export records converted to and from the newest's
//! (`convert_exports!`). Records of the same shape are still distinct Rust
//! types per version, so each rung expands these in its own module, where
//! `host`, `point_rules`, `segmenter`, `survey_scorer` and `churn_rescue`
//! are its own bindings and `latest` the newest rung.

/// The host interfaces a 0.1.0 or 0.2.0 component imports (`log`,
/// `customers`, `state`, `messaging`: the same in both), each forwarding
/// to the newest's, and `add_to_linker` linking them.
macro_rules! forward_host {
    () => {
        /// Links this version's host interfaces (each forwarding to the newest).
        fn add_to_linker(
            linker: &mut wasmtime::component::Linker<CallCtx>,
        ) -> wasmtime::Result<()> {
            use host::clientele::crm::{customers, log, messaging, state};
            type Own = wasmtime::component::HasSelf<CallCtx>;
            log::add_to_linker::<CallCtx, Own>(linker, |c| c)?;
            customers::add_to_linker::<CallCtx, Own>(linker, |c| c)?;
            state::add_to_linker::<CallCtx, Own>(linker, |c| c)?;
            messaging::add_to_linker::<CallCtx, Own>(linker, |c| c)
        }

        use host::clientele::crm as then;

        impl then::customers::Host for CallCtx {
            fn get(&mut self, id: String) -> wasmtime::Result<Option<latest::types::Customer>> {
                now::customers::Host::get(self, id)
            }

            fn orders(
                &mut self,
                customer_id: String,
                limit: u32,
            ) -> wasmtime::Result<Vec<then::customers::Order>> {
                let list = now::customers::Host::orders(self, customer_id, limit)?;
                Ok(list
                    .into_iter()
                    .map(|o| then::customers::Order {
                        order_id: o.order_id,
                        total_cents: o.total_cents,
                        currency: o.currency,
                        placed_at: o.placed_at,
                        refunded_cents: o.refunded_cents,
                    })
                    .collect())
            }

            fn points_balance(&mut self, customer_id: String) -> wasmtime::Result<i64> {
                now::customers::Host::points_balance(self, customer_id)
            }
        }

        impl then::log::Host for CallCtx {
            fn write(&mut self, level: then::log::Level, message: String) -> wasmtime::Result<()> {
                use now::log::Level as L;
                let level = match level {
                    then::log::Level::Trace => L::Trace,
                    then::log::Level::Debug => L::Debug,
                    then::log::Level::Info => L::Info,
                    then::log::Level::Warn => L::Warn,
                    then::log::Level::Error => L::Error,
                };
                now::log::Host::write(self, level, message)
            }
        }

        impl then::state::Host for CallCtx {
            fn get(&mut self, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
                now::state::Host::get(self, key)
            }

            fn set(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<Result<(), String>> {
                now::state::Host::set(self, key, value)
            }

            fn delete(&mut self, key: String) -> wasmtime::Result<()> {
                now::state::Host::delete(self, key)
            }
        }

        impl then::messaging::Host for CallCtx {
            fn send(
                &mut self,
                channel: String,
                customer_id: String,
                template: String,
                vars: String,
            ) -> wasmtime::Result<Result<String, String>> {
                now::messaging::Host::send(self, channel, customer_id, template, vars)
            }
        }
    };
}
pub(super) use forward_host;

/// `pub mod convert`: this rung's export records to and from the newest's.
macro_rules! convert_exports {
    () => {
        pub mod convert {
            //! The export types of 0.1.0 to and from the newest.

            use super::churn_rescue::exports::clientele::crm::rescue;
            use super::latest::churn_rescue::exports::clientele::crm::rescue as new_rescue;
            use super::latest::point_rules::exports::clientele::crm::loyalty as new_loyalty;
            use super::latest::segmenter::exports::clientele::crm::segmentation as new_seg;
            use super::latest::survey_scorer::exports::clientele::crm::scoring as new_scoring;
            use super::point_rules::exports::clientele::crm::loyalty;
            use super::segmenter::exports::clientele::crm::segmentation;
            use super::survey_scorer::exports::clientele::crm::scoring;

            pub fn ledger_ops(ops: Vec<loyalty::LedgerOp>) -> Vec<new_loyalty::LedgerOp> {
                use new_loyalty::{Deduct, Earn, LedgerOp as New};
                ops.into_iter()
                    .map(|op| match op {
                        loyalty::LedgerOp::Earn(e) => New::Earn(Earn {
                            points: e.points,
                            reason: e.reason,
                            expires_at: e.expires_at,
                        }),
                        loyalty::LedgerOp::Deduct(d) => {
                            New::Deduct(Deduct { points: d.points, reason: d.reason })
                        }
                        loyalty::LedgerOp::SetTier(t) => New::SetTier(t),
                    })
                    .collect()
            }

            pub fn memberships(list: Vec<segmentation::Membership>) -> Vec<new_seg::Membership> {
                list.into_iter()
                    .map(|m| new_seg::Membership { segment: m.segment, attributes: m.attributes })
                    .collect()
            }

            pub fn survey(s: &new_scoring::Survey) -> scoring::Survey {
                scoring::Survey {
                    id: s.id.clone(),
                    kind: s.kind.clone(),
                    questions: s.questions.clone(),
                }
            }

            pub fn response(r: &new_scoring::Response) -> scoring::Response {
                scoring::Response {
                    customer_id: r.customer_id.clone(),
                    submitted_at: r.submitted_at,
                    answers: r.answers.clone(),
                }
            }

            pub fn assessment_to(a: &new_rescue::Assessment) -> rescue::Assessment {
                rescue::Assessment {
                    p_alive: a.p_alive,
                    risk: a.risk,
                    value_cents: a.value_cents,
                    details: a.details.clone(),
                }
            }

            pub fn assessment_from(a: rescue::Assessment) -> new_rescue::Assessment {
                new_rescue::Assessment {
                    p_alive: a.p_alive,
                    risk: a.risk,
                    value_cents: a.value_cents,
                    details: a.details,
                }
            }

            pub fn flow_state(f: &new_rescue::FlowState) -> rescue::FlowState {
                rescue::FlowState {
                    flow_id: f.flow_id.clone(),
                    step: f.step,
                    started_at: f.started_at,
                    now: f.now,
                }
            }

            pub fn actions(list: Vec<rescue::Action>) -> Vec<new_rescue::Action> {
                use new_rescue::{Action as New, FlowEnd as End};
                list.into_iter()
                    .map(|a| match a {
                        rescue::Action::SendMessage(m) => New::SendMessage(new_rescue::Message {
                            channel: m.channel,
                            template: m.template,
                            vars: m.vars,
                        }),
                        rescue::Action::GrantPoints(p) => New::GrantPoints(p),
                        rescue::Action::GrantCoupon(pct) => New::GrantCoupon(pct),
                        rescue::Action::Schedule(s) => New::Schedule(s),
                        rescue::Action::EndFlow(end) => New::EndFlow(match end {
                            rescue::FlowEnd::Rescued => End::Rescued,
                            rescue::FlowEnd::Expired => End::Expired,
                            rescue::FlowEnd::Skipped => End::Skipped,
                        }),
                    })
                    .collect()
            }
        }
    };
}
pub(super) use convert_exports;
