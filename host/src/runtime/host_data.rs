//! The host interfaces new in contract 0.3.0 (and what 0.4.0, 0.5.0 and
//! 0.6.0 added): what a plugin reads beyond the customer it is called
//! about — a fit's per-row sums and counts (`population`),
//! a customer's segments, their scored survey answers (`surveys`, a
//! capability), a survey's own settings, the store's complaints and what
//! the install earned for an order (`earnings`, and per reason
//! `order-ledger`). Each answer is waited for
//! within the call's deadline like every host answer (`CallCtx::answer`).

use super::bindings::host::clientele::crm::{
    complaints, earnings, order_ledger, population, segments, survey_settings, surveys,
};
use super::ctx::CallCtx;
use crate::domain::ids::is_valid_id;

impl CallCtx {
    /// One value per row of the fit's population, from a map by customer
    /// (0 for a customer it leaves out); empty outside a fit.
    fn per_row(&self, by_customer: &std::collections::HashMap<String, i64>) -> Vec<i64> {
        self.each_row(|c| by_customer.get(c).copied().unwrap_or(0))
    }

    /// `f` of each row's customer, in the fit's population's order; empty
    /// outside a fit.
    fn each_row<T>(&self, f: impl FnMut(&String) -> T) -> Vec<T> {
        let Some(p) = &self.population else { return Vec::new() };
        p.customers.iter().map(f).collect()
    }
}

fn scored(a: crate::domain::survey::ScoredAnswer) -> surveys::ScoredAnswer {
    surveys::ScoredAnswer {
        survey_id: a.survey_id,
        kind: a.kind,
        submitted_at: a.submitted_at,
        answers: a.answers.to_string(),
        score: a.score.to_string(),
    }
}

impl population::Host for CallCtx {
    fn spend_within(&mut self, days: u32) -> wasmtime::Result<Vec<i64>> {
        let Some(as_of) = self.population.as_ref().map(|p| p.as_of) else {
            return Ok(Vec::new());
        };
        let (services, store) = (self.services(), self.scope.store_id.clone());
        let sums = self.answer(services.spend_within(&store, as_of, days))?;
        Ok(self.per_row(&sums))
    }

    fn repeat_day_spend(&mut self) -> wasmtime::Result<Vec<i64>> {
        let Some(as_of) = self.population.as_ref().map(|p| p.as_of) else {
            return Ok(Vec::new());
        };
        let (services, store) = (self.services(), self.scope.store_id.clone());
        let sums = self.answer(services.repeat_day_spend(&store, as_of))?;
        Ok(self.per_row(&sums))
    }

    fn orders_within(&mut self, days: u32) -> wasmtime::Result<Vec<u32>> {
        let Some(as_of) = self.population.as_ref().map(|p| p.as_of) else {
            return Ok(Vec::new());
        };
        let (services, store) = (self.services(), self.scope.store_id.clone());
        let counts = self.answer(services.orders_within(&store, as_of, days))?;
        Ok(self
            .per_row(&counts)
            .into_iter()
            .map(|n| n.clamp(0, i64::from(u32::MAX)) as u32)
            .collect())
    }
}

impl segments::Host for CallCtx {
    fn of(&mut self, customer_id: String) -> wasmtime::Result<Vec<segments::MemberOf>> {
        if !is_valid_id(&customer_id) {
            return Ok(Vec::new());
        }
        let (services, store) = (self.services(), self.scope.store_id.clone());
        let list = self.answer(services.segments_of(&store, &customer_id))?;
        Ok(list
            .into_iter()
            .map(|(segment, attributes)| segments::MemberOf {
                segment,
                attributes: attributes.to_string(),
            })
            .collect())
    }
}

impl surveys::Host for CallCtx {
    fn latest(
        &mut self,
        customer_id: String,
        kinds: Vec<String>,
    ) -> wasmtime::Result<Vec<surveys::ScoredAnswer>> {
        if !is_valid_id(&customer_id) || kinds.len() > 64 {
            return Ok(Vec::new());
        }
        let (services, store) = (self.services(), self.scope.store_id.clone());
        let list = self.answer(services.latest_answers(&store, &customer_id, &kinds))?;
        Ok(list.into_iter().map(scored).collect())
    }

    fn latest_of_population(
        &mut self,
        kinds: Vec<String>,
    ) -> wasmtime::Result<Vec<Option<surveys::ScoredAnswer>>> {
        let Some(as_of) = self.population.as_ref().map(|p| p.as_of) else {
            return Ok(Vec::new());
        };
        if kinds.len() > 64 {
            return Ok(self.each_row(|_| None));
        }
        let (services, store) = (self.services(), self.scope.store_id.clone());
        let mut latest = self.answer(services.latest_answer_of_each(&store, as_of, &kinds))?;
        Ok(self.each_row(|c| latest.remove(c).map(scored)))
    }
}

impl survey_settings::Host for CallCtx {
    fn get(&mut self, survey_id: String) -> wasmtime::Result<Option<String>> {
        if !is_valid_id(&survey_id) {
            return Ok(None);
        }
        let (services, store) = (self.services(), self.scope.store_id.clone());
        let found = self.answer(services.survey_settings(&store, &survey_id))?;
        Ok(found.map(|v| v.to_string()))
    }
}

impl complaints::Host for CallCtx {
    fn get(&mut self, complaint_id: String) -> wasmtime::Result<Option<complaints::Complaint>> {
        if !is_valid_id(&complaint_id) {
            return Ok(None);
        }
        let (services, store) = (self.services(), self.scope.store_id.clone());
        let found = self.answer(services.complaint(&store, &complaint_id))?;
        Ok(found.map(|c| complaints::Complaint {
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

impl earnings::Host for CallCtx {
    fn earned_for_order(&mut self, order_id: String) -> wasmtime::Result<i64> {
        if !is_valid_id(&order_id) {
            return Ok(0);
        }
        let services = self.services();
        let (store, install) = (self.scope.store_id.clone(), self.scope.install_id.clone());
        let found = self.answer(services.order_entries(&store, &install, &order_id))?;
        Ok(found.left_to_take_back())
    }
}

impl order_ledger::Host for CallCtx {
    fn of_order(&mut self, order_id: String) -> wasmtime::Result<order_ledger::OrderEntries> {
        let none = order_ledger::OrderEntries { earned: Vec::new(), deducted: 0 };
        if !is_valid_id(&order_id) {
            return Ok(none);
        }
        let services = self.services();
        let (store, install) = (self.scope.store_id.clone(), self.scope.install_id.clone());
        let found = self.answer(services.order_entries(&store, &install, &order_id))?;
        Ok(order_ledger::OrderEntries {
            earned: found
                .earned
                .into_iter()
                .map(|(reason, points)| order_ledger::Earned { reason, points })
                .collect(),
            deducted: found.deducted,
        })
    }
}
