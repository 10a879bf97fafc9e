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
    /// its last attempt.
    pub enum MessageState {
        Queued = "queued",
        Delivered = "delivered",
        Failed = "failed",
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
    }
}

text_enum! {
    /// Whether every install an event concerns has run on it.
    pub enum EventStatus {
        Pending = "pending",
        Processed = "processed",
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
        assert_eq!(
            SurveyKind::parse("satisfaction7"),
            Some(SurveyKind::Satisfaction7)
        );
        assert_eq!(FlowState::list(), "active, rescued, expired, skipped");
    }
}
