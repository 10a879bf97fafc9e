//! The loyalty ledger's vocabulary.

use serde::Serialize;

use super::time::Millis;

/// What a ledger entry does to the balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    Earn,
    Deduct,
    Expire,
    Redeem,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Earn => "earn",
            EntryKind::Deduct => "deduct",
            EntryKind::Expire => "expire",
            EntryKind::Redeem => "redeem",
        }
    }
}

/// A point-rules decision, validated by the host before it is applied.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum LedgerOp {
    Earn { points: i64, reason: String, expires_at: Option<Millis> },
    Deduct { points: i64, reason: String },
    SetTier { tier: Option<String> },
}

/// What one install's ledger entries for one order come to (contract
/// 0.6.0's `order-ledger`): what it earned, per reason, and what it took
/// back on the order's refunds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderEntries {
    /// (reason, points earned with it), by reason.
    pub earned: Vec<(String, i64)>,
    /// Points taken back (a positive number).
    pub deducted: i64,
}

impl OrderEntries {
    /// What is left to take back: everything earned less what was taken
    /// back, never below zero (contract 0.5.0's `earned-for-order`).
    pub fn left_to_take_back(&self) -> i64 {
        (self.earned.iter().map(|(_, p)| p).sum::<i64>() - self.deducted).max(0)
    }
}

/// Largest number of points one op may move.
pub const MAX_POINTS_PER_OP: i64 = 1_000_000_000;
/// Most ops one call may return.
pub const MAX_OPS_PER_CALL: usize = 64;
/// Longest reason or tier name.
pub const MAX_LABEL_LEN: usize = 200;

/// Checks a plugin's ops; the first problem found is the error.
pub fn validate_ops(ops: &[LedgerOp], occurred_at: Millis) -> Result<(), String> {
    if ops.len() > MAX_OPS_PER_CALL {
        return Err(format!(
            "returned {} ledger ops; at most {MAX_OPS_PER_CALL} are allowed",
            ops.len()
        ));
    }
    for (i, op) in ops.iter().enumerate() {
        let check_label = |what: &str, s: &str| {
            if s.is_empty() || s.len() > MAX_LABEL_LEN || s.chars().any(char::is_control) {
                Err(format!("op {i}: {what} must be 1-{MAX_LABEL_LEN} printable characters"))
            } else {
                Ok(())
            }
        };
        match op {
            LedgerOp::Earn { points, reason, expires_at } => {
                if !(1..=MAX_POINTS_PER_OP).contains(points) {
                    return Err(format!(
                        "op {i}: earn of {points} points is outside 1..={MAX_POINTS_PER_OP}"
                    ));
                }
                check_label("reason", reason)?;
                if let Some(at) = expires_at {
                    if *at <= occurred_at {
                        return Err(format!(
                            "op {i}: expires_at is not after the event's occurred_at"
                        ));
                    }
                    if *at > crate::domain::time::LATEST_MS {
                        return Err(format!("op {i}: expires_at {at} ms is after the year 9999"));
                    }
                }
            }
            LedgerOp::Deduct { points, reason } => {
                if !(1..=MAX_POINTS_PER_OP).contains(points) {
                    return Err(format!(
                        "op {i}: deduct of {points} points is outside 1..={MAX_POINTS_PER_OP}"
                    ));
                }
                check_label("reason", reason)?;
            }
            LedgerOp::SetTier { tier } => {
                if let Some(t) = tier {
                    check_label("tier", t)?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn left_to_take_back_is_earned_less_deducted_never_below_zero() {
        let e = |earned: &[i64], deducted| OrderEntries {
            earned: earned.iter().map(|p| ("order".to_string(), *p)).collect(),
            deducted,
        };
        assert_eq!(e(&[], 0).left_to_take_back(), 0);
        assert_eq!(e(&[99, 100], 33).left_to_take_back(), 166);
        assert_eq!(e(&[10], 25).left_to_take_back(), 0);
    }

    #[test]
    fn rejects_bad_ops() {
        let earn = |points| LedgerOp::Earn { points, reason: "order".into(), expires_at: None };
        assert!(validate_ops(&[earn(5)], 0).is_ok());
        assert!(validate_ops(&[earn(0)], 0).is_err());
        assert!(validate_ops(&[earn(-3)], 0).is_err());
        assert!(validate_ops(&[earn(MAX_POINTS_PER_OP + 1)], 0).is_err());
        let many: Vec<_> = (0..MAX_OPS_PER_CALL + 1).map(|_| earn(1)).collect();
        assert!(validate_ops(&many, 0).is_err());
        let past = LedgerOp::Earn { points: 1, reason: "x".into(), expires_at: Some(10) };
        assert!(validate_ops(&[past], 10).is_err());
        let expiring = |at| LedgerOp::Earn { points: 1, reason: "x".into(), expires_at: Some(at) };
        assert!(validate_ops(&[expiring(crate::domain::time::LATEST_MS)], 10).is_ok());
        assert!(validate_ops(&[expiring(crate::domain::time::LATEST_MS + 1)], 10).is_err());
        assert!(validate_ops(&[expiring(i64::MAX)], 10).is_err());
        let blank = LedgerOp::Deduct { points: 1, reason: String::new() };
        assert!(validate_ops(&[blank], 0).is_err());
    }
}
