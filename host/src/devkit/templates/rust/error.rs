//! Lets `?` turn a plain message into the host's error: code `plugin`, not
//! worth a retry. Build a `PluginError` yourself for a code of your own, or
//! `retryable: true` when a later try may succeed.

use crate::clientele::crm::types::PluginError;

impl From<String> for PluginError {
    fn from(message: String) -> Self {
        PluginError {
            code: "plugin".into(),
            message,
            retryable: false,
        }
    }
}

impl From<&str> for PluginError {
    fn from(message: &str) -> Self {
        message.to_string().into()
    }
}
