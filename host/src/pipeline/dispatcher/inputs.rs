//! Phases 1 and 2: what the events say, recorded and committed; then what
//! the batch's calls read — the customers, the installs with their
//! versions and each install's world unit.

use std::collections::HashMap;

use super::{Arm, BatchInstall, Dispatcher, Facts, Inputs};
use crate::db::events::StoredEvent;
use crate::db::installs::Install;
use crate::db::{customers, events, failures, installs, Conn};
use crate::domain::rollout::CanaryState;
use crate::domain::states::FailurePolicy;
use crate::domain::time::Millis;
use crate::pipeline::facts;
use crate::pipeline::worlds::{BatchScope, Unit};
use crate::pipeline::PipelineResult;

impl Dispatcher {
    /// Phase 1: the events' facts recorded before any plugin sees the
    /// customer, and the batch marked open. Committed at once: the write
    /// lock is free while plugins run.
    pub(super) async fn record_facts(
        &self,
        store: &str,
        batch: &[StoredEvent],
        now: Millis,
    ) -> PipelineResult<Facts> {
        let mut tx = self.db.begin_store(store).await?;
        let recorded = facts::record(&mut tx, store, batch, now).await?;
        // A batch left open by the last attempt makes its events suspect;
        // this one leaves its own mark before any plugin runs, removed when
        // it commits.
        let open_to = events::open_batch(&mut tx, store).await?;
        let last = batch.iter().map(|ev| ev.seq).max().unwrap_or(0);
        events::begin_batch(&mut tx, store, last).await?;
        tx.commit().await?;
        Ok(Facts { customers: recorded.customers, order_totals: recorded.order_totals, open_to })
    }

    /// Phase 2: the customers as they are now, the installs, and what
    /// each install's world needs.
    pub(super) async fn load_inputs(
        &self,
        store: &str,
        batch: &[StoredEvent],
        facts: &Facts,
        now: Millis,
    ) -> PipelineResult<Inputs> {
        let ids: Vec<&str> = facts.customers.iter().map(String::as_str).collect();
        let mut conn = self.db.pool.acquire().await?;
        let customers = customers::get_many(&mut conn, store, &ids).await?;
        let mut list = Vec::new();
        for install in installs::for_events(&mut conn, store).await? {
            let scope = BatchScope {
                store,
                install_id: &install.install_id,
                customers: &ids,
                events: batch,
                now,
                campaign: install.campaign.as_ref(),
            };
            let unit = Unit::load(install.world, &mut conn, &scope).await?;
            list.push(self.batch_install(&mut conn, install, unit, &ids).await?);
        }
        let event_ids: Vec<&str> = batch.iter().map(|ev| ev.event.id.as_str()).collect();
        let again = failures::to_run_again(&mut conn, store, &event_ids).await?;
        Ok(Inputs { customers, installs: list, again })
    }

    /// An install with its versions loaded: live, shadow, canary. One a
    /// breaker disabled loads none; it only answers for the events that
    /// were queued before.
    async fn batch_install(
        &self,
        conn: &mut Conn,
        install: Install,
        unit: Unit,
        customers: &[&str],
    ) -> PipelineResult<BatchInstall> {
        let mut bi = BatchInstall {
            consecutive: install.consecutive_failures,
            live: Arm::disabled(&install, ""),
            shadow: None,
            canary: None,
            holding: HashMap::new(),
            tally: Default::default(),
            unit,
            calls: 0,
            failures: 0,
            tripped: None,
            install,
        };
        let install = &bi.install;
        if !install.enabled {
            let why = install.disabled_reason.clone().unwrap_or_else(|| "disabled".into());
            bi.live = Arm::disabled(install, &why);
            bi.tripped = Some((why, install.tripped_at.unwrap_or(0)));
            return Ok(bi);
        }
        let (db, rt) = (&self.db, &self.runtime);
        bi.live = Arm::load(db, rt, install, &install.version, &install.config).await;
        if let Some(s) = &install.shadow {
            bi.shadow = Some(Arm::load(db, rt, install, &s.version, &s.config).await);
        }
        if let Some(c) = install.canary.as_ref().filter(|c| c.state == CanaryState::Running) {
            bi.canary = Some((Arm::load(db, rt, install, &c.version, &c.config).await, c.clone()));
        }
        if install.failure_policy == FailurePolicy::Hold {
            bi.holding = failures::holding(conn, &install.install_id, customers).await?;
        }
        Ok(bi)
    }
}
