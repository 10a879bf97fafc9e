//! Reading and redeeming a customer's points.

use super::{Pipeline, PipelineError, PipelineResult};
use crate::db::ledger::{self, Entry};
use crate::db::{customers, Db};
use crate::domain::ledger::EntryKind;
use crate::domain::subject::Subject;
use crate::domain::time::now_ms;

pub struct PointsView {
    pub balance: i64,
    pub tier: Option<String>,
    pub entries: Vec<Entry>,
}

impl Pipeline {
    /// The customer's ledger, with anything due expired first.
    pub async fn points(&self, store: &str, customer: &str) -> PipelineResult<PointsView> {
        expire_now(&self.db, store, customer).await?;
        let mut conn = self.db.pool.acquire().await?;
        let c = customers::get(&mut conn, store, customer)
            .await?
            .ok_or_else(|| PipelineError::NotFound(format!("customer `{customer}` not found")))?;
        let entries = ledger::entries(&mut conn, store, customer).await?;
        Ok(PointsView { balance: c.points_balance, tier: c.tier, entries })
    }

    /// Spends `points`, oldest unexpired lots first. Returns the new
    /// balance, or a conflict when the balance is too low.
    pub async fn redeem(
        &self,
        store: &str,
        customer: &str,
        points: i64,
        reason: &str,
    ) -> PipelineResult<(i64, Entry)> {
        let now = now_ms();
        let mut tx = self.db.begin_store(store).await?;
        if customers::get(&mut tx, store, customer).await?.is_none() {
            return Err(PipelineError::NotFound(format!("customer `{customer}` not found")));
        }
        ledger::expire_customer(&mut tx, store, customer, now).await?;
        let balance = ledger::balance(&mut tx, store, customer).await?;
        if balance < points {
            return Err(PipelineError::Conflict(format!(
                "balance is {balance} points; cannot redeem {points}"
            )));
        }
        let entry = ledger::take(
            &mut tx,
            &Subject::host(store, customer, now),
            points,
            EntryKind::Redeem,
            reason,
            None,
        )
        .await?
        .expect("balance checked above");
        let balance = ledger::balance(&mut tx, store, customer).await?;
        tx.commit().await?;
        Ok((balance, entry))
    }
}

/// Expires the customer's due points, taking the write lock only when
/// something is due: reading a balance should not queue behind writers.
async fn expire_now(db: &Db, store: &str, customer: &str) -> PipelineResult<()> {
    let now = now_ms();
    let due = {
        let mut conn = db.pool.acquire().await?;
        ledger::due_among(&mut conn, store, &[customer], now).await?
    };
    if due.is_empty() {
        return Ok(());
    }
    let mut tx = db.begin_store(store).await?;
    ledger::expire_customer(&mut tx, store, customer, now).await?;
    tx.commit().await?;
    Ok(())
}
