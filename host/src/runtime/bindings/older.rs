//! What every rung older than the newest shares: its host interfaces
//! forwarded to the newest's (`forward_host!`: those of 0.1.0's shape,
//! and with `reads` those 0.3.0 added), its export records converted to
//! and from the newest's (`convert_exports!`), and, for the rungs whose
//! exports have 0.2.0's shape, the newest's calls made on them
//! (`older_calls!`). Records of the same shape are still distinct Rust
//! types per version, so each rung expands these in its own module, where
//! `host`, `point_rules`, `segmenter`, `survey_scorer` and `churn_rescue`
//! are its own bindings and `latest` the newest rung.

/// The host interfaces an older component imports, each forwarding to the
/// newest's, and `add_to_linker` linking them: `log`, `customers`, `state`
/// and `messaging` (the same since 0.1.0), with `reads` the `population`,
/// `segments`, `surveys` and `survey-settings` of 0.3.0, with
/// `reads_0_4_0` those with the two reads 0.4.0 added, and with
/// `reads_0_5_0` those and 0.5.0's `complaints` and `earnings`.
macro_rules! forward_host {
    () => {
        /// Links this version's host interfaces (each forwarding to the newest).
        fn add_to_linker(
            linker: &mut wasmtime::component::Linker<CallCtx>,
        ) -> wasmtime::Result<()> {
            link_shared(linker)
        }

        super::older::forward_host!(@shared);
    };
    (reads) => {
        super::older::forward_host!(@reads []);

        impl then::population::Host for CallCtx {
            fn spend_within(&mut self, days: u32) -> wasmtime::Result<Vec<i64>> {
                now::population::Host::spend_within(self, days)
            }

            fn repeat_day_spend(&mut self) -> wasmtime::Result<Vec<i64>> {
                now::population::Host::repeat_day_spend(self)
            }
        }

        impl then::surveys::Host for CallCtx {
            fn latest(
                &mut self,
                customer_id: String,
                kinds: Vec<String>,
            ) -> wasmtime::Result<Vec<then::surveys::ScoredAnswer>> {
                let list = now::surveys::Host::latest(self, customer_id, kinds)?;
                Ok(list.into_iter().map(scored_answer).collect())
            }
        }
    };
    (reads_0_4_0) => {
        super::older::forward_host!(@reads_0_4_0 []);
    };
    (reads_0_5_0) => {
        super::older::forward_host!(@reads_0_4_0 [complaints, earnings]);

        impl then::complaints::Host for CallCtx {
            fn get(
                &mut self,
                complaint_id: String,
            ) -> wasmtime::Result<Option<then::complaints::Complaint>> {
                let found = now::complaints::Host::get(self, complaint_id)?;
                Ok(found.map(|c| then::complaints::Complaint {
                    id: c.id,
                    customer_id: c.customer_id,
                    order_id: c.order_id,
                    category: c.category,
                    severity: c.severity,
                    filed_at: c.filed_at,
                    filed_event: c.filed_event,
                    due_at: c.due_at,
                    resolved_at: c.resolved_at,
                    resolved_event: c.resolved_event,
                    resolution: c.resolution,
                    satisfied: c.satisfied,
                }))
            }
        }

        impl then::earnings::Host for CallCtx {
            fn earned_for_order(&mut self, order_id: String) -> wasmtime::Result<i64> {
                now::earnings::Host::earned_for_order(self, order_id)
            }
        }
    };
    (@reads_0_4_0 [$($extra:ident),*]) => {
        super::older::forward_host!(@reads [$($extra),*]);

        impl then::population::Host for CallCtx {
            fn spend_within(&mut self, days: u32) -> wasmtime::Result<Vec<i64>> {
                now::population::Host::spend_within(self, days)
            }

            fn repeat_day_spend(&mut self) -> wasmtime::Result<Vec<i64>> {
                now::population::Host::repeat_day_spend(self)
            }

            fn orders_within(&mut self, days: u32) -> wasmtime::Result<Vec<u32>> {
                now::population::Host::orders_within(self, days)
            }
        }

        impl then::surveys::Host for CallCtx {
            fn latest(
                &mut self,
                customer_id: String,
                kinds: Vec<String>,
            ) -> wasmtime::Result<Vec<then::surveys::ScoredAnswer>> {
                let list = now::surveys::Host::latest(self, customer_id, kinds)?;
                Ok(list.into_iter().map(scored_answer).collect())
            }

            fn latest_of_population(
                &mut self,
                kinds: Vec<String>,
            ) -> wasmtime::Result<Vec<Option<then::surveys::ScoredAnswer>>> {
                let list = now::surveys::Host::latest_of_population(self, kinds)?;
                Ok(list.into_iter().map(|a| a.map(scored_answer)).collect())
            }
        }
    };
    (@reads [$($extra:ident),*]) => {
        /// Links this version's host interfaces (each forwarding to the newest).
        fn add_to_linker(
            linker: &mut wasmtime::component::Linker<CallCtx>,
        ) -> wasmtime::Result<()> {
            use host::clientele::crm::{population, segments, survey_settings, surveys};
            type Own = wasmtime::component::HasSelf<CallCtx>;
            link_shared(linker)?;
            population::add_to_linker::<CallCtx, Own>(linker, |c| c)?;
            segments::add_to_linker::<CallCtx, Own>(linker, |c| c)?;
            surveys::add_to_linker::<CallCtx, Own>(linker, |c| c)?;
            survey_settings::add_to_linker::<CallCtx, Own>(linker, |c| c)?;
            $(host::clientele::crm::$extra::add_to_linker::<CallCtx, Own>(linker, |c| c)?;)*
            Ok(())
        }

        super::older::forward_host!(@shared);

        fn scored_answer(a: now::surveys::ScoredAnswer) -> then::surveys::ScoredAnswer {
            then::surveys::ScoredAnswer {
                survey_id: a.survey_id,
                kind: a.kind,
                submitted_at: a.submitted_at,
                answers: a.answers,
                score: a.score,
            }
        }

        impl then::segments::Host for CallCtx {
            fn of(
                &mut self,
                customer_id: String,
            ) -> wasmtime::Result<Vec<then::segments::MemberOf>> {
                let list = now::segments::Host::of(self, customer_id)?;
                Ok(list
                    .into_iter()
                    .map(|m| then::segments::MemberOf { segment: m.segment, attributes: m.attributes })
                    .collect())
            }
        }

        impl then::survey_settings::Host for CallCtx {
            fn get(&mut self, survey_id: String) -> wasmtime::Result<Option<String>> {
                now::survey_settings::Host::get(self, survey_id)
            }
        }
    };
    (@shared) => {
        /// Links the host interfaces every version has.
        fn link_shared(
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
    (segmented) => {
        super::older::convert_exports!(@with {
            crate::runtime::bindings::older::convert_exports!(@segmented);
        });
    };
    (segmented, reactions) => {
        super::older::convert_exports!(@with {
            crate::runtime::bindings::older::convert_exports!(@segmented);

            use super::latest::responder::exports::clientele::crm::reactions as new_reactions;
            use super::responder::exports::clientele::crm::reactions;

            /// A responder's actions (0.5.0's shape).
            pub fn reactions(list: Vec<reactions::Action>) -> Vec<new_reactions::Action> {
                use new_reactions::Action as New;
                list.into_iter()
                    .map(|a| match a {
                        reactions::Action::SendMessage(m) => New::SendMessage(new_reactions::Message {
                            channel: m.channel,
                            template: m.template,
                            vars: m.vars,
                        }),
                        reactions::Action::GrantPoints(p) => New::GrantPoints(p),
                        reactions::Action::SetTimer(t) => New::SetTimer(new_reactions::TimerRequest {
                            key: t.key,
                            at: t.at,
                            payload: t.payload,
                        }),
                        reactions::Action::CancelTimer(key) => New::CancelTimer(key),
                        reactions::Action::SetComplaintDue(due) => New::SetComplaintDue(due),
                    })
                    .collect()
            }

            pub fn timer(t: &new_reactions::Timer) -> reactions::Timer {
                reactions::Timer {
                    key: t.key.clone(),
                    payload: t.payload.clone(),
                    due_at: t.due_at,
                    now: t.now,
                }
            }
        });
    };
    (@segmented) => {
        /// A 0.4.0 fit, memberships and all.
        pub fn segmented_of_0_4_0(s: segmentation::Segmented) -> new_seg::Segmented {
            new_seg::Segmented {
                fitted: s.fitted,
                memberships: s.memberships.map(|rows| rows.into_iter().map(memberships).collect()),
            }
        }
    };
    () => {
        super::older::convert_exports!(@with {});
    };
    (@with { $($extra:item)* }) => {
        pub mod convert {
            //! This rung's export types to and from the newest.

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

            /// A fit of a rung before 0.4.0: its model; the host classifies
            /// every customer with it.
            pub fn segmented(fitted: super::latest::types::Fitted) -> new_seg::Segmented {
                new_seg::Segmented { fitted, memberships: None }
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

            $($extra)*
        }
    };
}
pub(super) use convert_exports;

/// `mod calls` (and `flow_summary`): the newest contract's calls on a
/// component of a rung whose exports have 0.2.0's shape (0.2.0, 0.3.0),
/// or that shape with 0.4.0's `segmented` (`fit:` names the conversion of
/// a fit's answer), and with `responder` 0.5.0's world of that name.
macro_rules! older_calls {
    () => {
        super::older::older_calls!(fit: segmented);
    };
    (fit: $fit:ident) => {
        super::older::older_calls!(@calls $fit {});
    };
    (fit: $fit:ident, responder) => {
        super::older::older_calls!(@calls $fit {
            use super::latest::responder::exports::clientele::crm::reactions;

            impl l::Responder for super::responder::ResponderPre<CallCtx> {
                fn on_event(
                    &self,
                    store: &mut Store<CallCtx>,
                    config: &str,
                    c: &Customer,
                    e: &Event,
                ) -> Answer<Vec<reactions::Action>> {
                    let ctx = store.data_mut().store_context(e.occurred_at)?;
                    let r = self.instantiate(&mut *store)?;
                    let got = r.clientele_crm_reactions().call_on_event(
                        store,
                        &ctx,
                        &config.to_string(),
                        c,
                        e,
                    );
                    answer(got, old::reactions)
                }

                fn on_timer(
                    &self,
                    store: &mut Store<CallCtx>,
                    config: &str,
                    c: &Customer,
                    timer: &reactions::Timer,
                ) -> Answer<Vec<reactions::Action>> {
                    let ctx = store.data_mut().store_context(timer.now)?;
                    let timer = old::timer(timer);
                    let r = self.instantiate(&mut *store)?;
                    let got = r.clientele_crm_reactions().call_on_timer(
                        store,
                        &ctx,
                        &config.to_string(),
                        c,
                        &timer,
                    );
                    answer(got, old::reactions)
                }
            }
        });
    };
    (@calls $fit:ident { $($extra:item)* }) => {
        /// The customer's flow, as this rung's `plan` sees it.
        fn flow_summary(
            f: &latest::churn_rescue::exports::clientele::crm::rescue::FlowSummary,
        ) -> churn_rescue::exports::clientele::crm::rescue::FlowSummary {
            use churn_rescue::exports::clientele::crm::rescue::{FlowStatus as Then, FlowSummary};
            use latest::churn_rescue::exports::clientele::crm::rescue::FlowStatus as Now;
            FlowSummary {
                flow_id: f.flow_id.clone(),
                status: match f.status {
                    Now::Active => Then::Active,
                    Now::Rescued => Then::Rescued,
                    Now::Expired => Then::Expired,
                    Now::Skipped => Then::Skipped,
                },
                step: f.step,
                started_at: f.started_at,
                ended_at: f.ended_at,
            }
        }

        mod calls {
            //! The newest contract's calls on a component of this rung: the same
            //! store context, arguments and answers converted.

            use super::convert as old;
            use super::latest::churn_rescue::exports::clientele::crm::rescue;
            use super::latest::point_rules::exports::clientele::crm::loyalty;
            use super::latest::segmenter::exports::clientele::crm::segmentation;
            use super::latest::survey_scorer::exports::clientele::crm::scoring;
            use super::latest::types::{Customer, Event, Fitted, Population};
            use super::{churn_rescue, point_rules, segmenter, survey_scorer};
            use crate::runtime::bindings::ladder::{self as l, Answer};
            use crate::runtime::CallCtx;
            use wasmtime::Store;

            /// An answer of this rung's export, converted.
            fn answer<T, U>(result: Answer<T>, convert: impl FnOnce(T) -> U) -> Answer<U> {
                result.map(|r| r.map(convert))
            }

            impl l::PointRules for point_rules::PointRulesPre<CallCtx> {
                fn on_event(
                    &self,
                    store: &mut Store<CallCtx>,
                    config: &str,
                    c: &Customer,
                    e: &Event,
                ) -> Answer<Vec<loyalty::LedgerOp>> {
                    let ctx = store.data_mut().store_context(e.occurred_at)?;
                    let p = self.instantiate(&mut *store)?;
                    let got = p.clientele_crm_loyalty().call_on_event(
                        store,
                        &ctx,
                        &config.to_string(),
                        c,
                        e,
                    );
                    answer(got, old::ledger_ops)
                }
            }

            impl l::Segmenter for segmenter::SegmenterPre<CallCtx> {
                fn fit(
                    &self,
                    store: &mut Store<CallCtx>,
                    config: &str,
                    p: &Population,
                ) -> Answer<segmentation::Segmented> {
                    let ctx = store.data_mut().store_context(p.as_of)?;
                    let s = self.instantiate(&mut *store)?;
                    let got = s.clientele_crm_segmentation().call_fit(
                        store,
                        &ctx,
                        &config.to_string(),
                        p,
                    );
                    answer(got, old::$fit)
                }

                fn classify(
                    &self,
                    store: &mut Store<CallCtx>,
                    config: &str,
                    model: &[u8],
                    c: &Customer,
                    as_of: i64,
                ) -> Answer<Vec<segmentation::Membership>> {
                    let ctx = store.data_mut().store_context(as_of)?;
                    let s = self.instantiate(&mut *store)?;
                    let got = s.clientele_crm_segmentation().call_classify(
                        store,
                        &ctx,
                        &config.to_string(),
                        model,
                        c,
                        as_of,
                    );
                    answer(got, old::memberships)
                }
            }

            impl l::SurveyScorer for survey_scorer::SurveyScorerPre<CallCtx> {
                fn score(
                    &self,
                    store: &mut Store<CallCtx>,
                    config: &str,
                    survey: &scoring::Survey,
                    response: &scoring::Response,
                ) -> Answer<String> {
                    let ctx = store.data_mut().store_context(response.submitted_at)?;
                    let (survey, response) = (old::survey(survey), old::response(response));
                    let s = self.instantiate(&mut *store)?;
                    s.clientele_crm_scoring().call_score(
                        store,
                        &ctx,
                        &config.to_string(),
                        &survey,
                        &response,
                    )
                }

                fn aggregate(
                    &self,
                    store: &mut Store<CallCtx>,
                    now: i64,
                    config: &str,
                    survey: &scoring::Survey,
                    scored: &[String],
                ) -> Answer<String> {
                    let ctx = store.data_mut().store_context(now)?;
                    let survey = old::survey(survey);
                    let s = self.instantiate(&mut *store)?;
                    s.clientele_crm_scoring().call_aggregate(
                        store,
                        &ctx,
                        &config.to_string(),
                        &survey,
                        scored,
                    )
                }
            }

            impl l::ChurnRescue for churn_rescue::ChurnRescuePre<CallCtx> {
                fn fit(
                    &self,
                    store: &mut Store<CallCtx>,
                    config: &str,
                    p: &Population,
                ) -> Answer<Fitted> {
                    let ctx = store.data_mut().store_context(p.as_of)?;
                    let r = self.instantiate(&mut *store)?;
                    r.clientele_crm_rescue().call_fit(store, &ctx, &config.to_string(), p)
                }

                fn assess(
                    &self,
                    store: &mut Store<CallCtx>,
                    config: &str,
                    model: &[u8],
                    c: &Customer,
                    as_of: i64,
                ) -> Answer<rescue::Assessment> {
                    let ctx = store.data_mut().store_context(as_of)?;
                    let r = self.instantiate(&mut *store)?;
                    let got = r.clientele_crm_rescue().call_assess(
                        store,
                        &ctx,
                        &config.to_string(),
                        model,
                        c,
                        as_of,
                    );
                    answer(got, old::assessment_from)
                }

                fn plan(
                    &self,
                    store: &mut Store<CallCtx>,
                    config: &str,
                    a: &rescue::Assessment,
                    c: &Customer,
                    current: Option<&rescue::FlowSummary>,
                    as_of: i64,
                ) -> Answer<Vec<rescue::Action>> {
                    let ctx = store.data_mut().store_context(as_of)?;
                    let (a, current) = (old::assessment_to(a), current.map(super::flow_summary));
                    let r = self.instantiate(&mut *store)?;
                    let got = r.clientele_crm_rescue().call_plan(
                        store,
                        &ctx,
                        &config.to_string(),
                        &a,
                        c,
                        current.as_ref(),
                    );
                    answer(got, old::actions)
                }

                fn on_timer(
                    &self,
                    store: &mut Store<CallCtx>,
                    config: &str,
                    c: &Customer,
                    flow: &rescue::FlowState,
                ) -> Answer<Vec<rescue::Action>> {
                    let ctx = store.data_mut().store_context(flow.now)?;
                    let flow = old::flow_state(flow);
                    let r = self.instantiate(&mut *store)?;
                    let got = r.clientele_crm_rescue().call_on_timer(
                        store,
                        &ctx,
                        &config.to_string(),
                        c,
                        &flow,
                    );
                    answer(got, old::actions)
                }
            }

            $($extra)*
        }
    };
}
pub(super) use older_calls;
