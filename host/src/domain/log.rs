//! What a plugin wrote while it ran, as the host keeps it.

/// A line a plugin wrote: through the `log` interface (`level` as it
/// said), or to stdout (`info`) or stderr (`warn`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct LogLine {
    /// `trace`, `debug`, `info`, `warn` or `error`.
    pub level: String,
    /// `log`, `stdout` or `stderr`.
    pub stream: String,
    pub message: String,
}
