use thiserror::Error;

/// Why a component was refused or a call failed. Every message is meant
/// for the plugin's developer or the merchant, and says what went wrong.
#[derive(Debug, Error)]
pub enum RuntimeError {
    #[error("not a WebAssembly file: it does not start with the `\\0asm` header")]
    NotWasm,
    #[error("a core WebAssembly module, not a component: build it for the wasm32-wasip2 target (or wrap it with `wasm-tools component new`)")]
    CoreModule,
    #[error("not a valid component: {0}")]
    Invalid(String),
    #[error("the component does not implement the declared world: {0}")]
    WrongWorld(String),
    #[error("the component {0}")]
    UndeclaredImport(String),
    #[error("timed out: the call ran past its {ms} ms deadline")]
    Timeout { ms: u32 },
    #[error("used up its compute budget of {fuel} fuel (raise `[limits] fuel` in plugin.toml if the work is legitimate)")]
    FuelExhausted { fuel: u64 },
    #[error("exceeded its memory limit of {mib} MiB")]
    MemoryLimit { mib: u32 },
    #[error("trapped: {0}")]
    Trap(String),
    /// The plugin's own error: its code (none from a 0.1.0 plugin), its
    /// message, and whether it said a retry may succeed.
    #[error("returned an error{}: {message}", own_code(.code))]
    Plugin { code: String, message: String, retryable: bool },
    #[error("returned invalid output, nothing was applied: {0}")]
    InvalidOutput(String),
    #[error("failed in the host, nothing was applied: {0}")]
    Host(String),
}

impl RuntimeError {
    /// A short stable code, stored with failed outcomes and used in metrics.
    pub fn code(&self) -> &'static str {
        match self {
            RuntimeError::NotWasm => "not_wasm",
            RuntimeError::CoreModule => "core_module",
            RuntimeError::Invalid(_) => "invalid_component",
            RuntimeError::WrongWorld(_) => "wrong_world",
            RuntimeError::UndeclaredImport(_) => "undeclared_import",
            RuntimeError::Timeout { .. } => "timeout",
            RuntimeError::FuelExhausted { .. } => "fuel_exhausted",
            RuntimeError::MemoryLimit { .. } => "memory_limit",
            RuntimeError::Trap(_) => "trap",
            RuntimeError::Plugin { .. } => "plugin_error",
            RuntimeError::InvalidOutput(_) => "invalid_output",
            RuntimeError::Host(_) => "host_error",
        }
    }
}

impl RuntimeError {
    /// Whether the same call may succeed if tried again: the backstop
    /// deadline (the machine was busy), the host failing, or the plugin
    /// saying so (`retryable` in its error; `retryable:` at the start of a
    /// 0.1.0 plugin's). A trap, a used-up budget or invalid output fails
    /// the same way every time.
    pub fn may_pass(&self) -> bool {
        match self {
            RuntimeError::Timeout { .. } | RuntimeError::Host(_) => true,
            RuntimeError::Plugin { retryable, .. } => *retryable,
            _ => false,
        }
    }
}

fn own_code(code: &str) -> String {
    if code.is_empty() {
        String::new()
    } else {
        format!(" `{code}`")
    }
}
