//! The states things move through, each a closed set.

text_enum! {
    /// Where a rescue flow is: `active` until it ends `rescued` (an order
    /// arrived), `expired` (its steps ran out) or `skipped` (the plan
    /// decided against one).
    pub enum FlowState {
        Active = "active",
        Rescued = "rescued",
        Expired = "expired",
        Skipped = "skipped",
    }
}

text_enum! {
    /// What became of one install's call on one event.
    pub enum OutcomeStatus {
        Ok = "ok",
        Failed = "failed",
    }
}

text_enum! {
    /// Where a message is: `queued` until `delivered`, or `failed` after
    /// its last attempt, or `cancelled` (its customer was erased first).
    pub enum MessageState {
        Queued = "queued",
        Delivered = "delivered",
        Failed = "failed",
        Cancelled = "cancelled",
    }
}

text_enum! {
    /// The survey kinds whose answers the host knows how to check.
    pub enum SurveyKind {
        Nps = "nps",
        Csat = "csat",
        Ces = "ces",
        Satisfaction7 = "satisfaction7",
        Gap = "gap",
        Kano = "kano",
        Acsi = "acsi",
    }
}

text_enum! {
    /// Whether every install an event concerns has run on it.
    pub enum EventStatus {
        Pending = "pending",
        Processed = "processed",
    }
}

text_enum! {
    /// Where one install's failed call on one event is: `retrying` (it may
    /// pass; the customer's later events wait), `dead` (kept for a
    /// re-drive), `held` (not run: a dead failure of the same customer came
    /// first, under the `hold` policy), `redriving` (queued again after a
    /// fix) or `resolved` (a later attempt succeeded).
    pub enum FailureState {
        Retrying = "retrying",
        Dead = "dead",
        Held = "held",
        Redriving = "redriving",
        Resolved = "resolved",
    }
}

text_enum! {
    /// What an install does with a customer's later events after a call
    /// failed for good: `skip` runs them (the failure waits for a re-drive),
    /// `hold` keeps them, in order, until the failure is re-driven.
    pub enum FailurePolicy {
        Skip = "skip",
        Hold = "hold",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agrees<T: serde::Serialize + Copy + std::fmt::Display>(all: &[T]) {
        for v in all {
            assert_eq!(serde_json::to_value(v).unwrap(), v.to_string());
        }
    }

    #[test]
    fn each_text_is_what_json_and_the_schema_say() {
        agrees(FlowState::ALL);
        agrees(OutcomeStatus::ALL);
        agrees(MessageState::ALL);
        agrees(SurveyKind::ALL);
        agrees(EventStatus::ALL);
        agrees(FailureState::ALL);
        agrees(FailurePolicy::ALL);
        assert_eq!(SurveyKind::parse("satisfaction7"), Some(SurveyKind::Satisfaction7));
        assert_eq!(FlowState::list(), "active, rescued, expired, skipped");
    }
}
