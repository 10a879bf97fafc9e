//! The per-call store data: what one plugin call may see and what it left
//! behind. A fresh `CallCtx` is built for every call, so nothing leaks
//! between events, customers or installs.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime::ResourceLimiter;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::host::clientele::crm::{customers, log, messaging, state};
use super::bindings::types;
use super::convert;
use super::services::{HostFuture, HostServices};
use crate::domain::ids::is_valid_id;

/// Bytes a plugin may write to stdout/stderr per call (the rest is dropped).
const STDIO_CAPTURE_BYTES: usize = 16 * 1024;
/// Log lines a plugin may write per call.
const MAX_LOG_LINES: u32 = 100;
/// Longest log line kept.
const MAX_LOG_LINE: usize = 4096;
/// Messages one call may queue.
pub const MAX_MESSAGES_PER_CALL: usize = 16;
/// Keys and values of the `state` capability.
pub const MAX_STATE_KEY: usize = 256;
pub const MAX_STATE_BYTES: usize = 256 * 1024;

pub use crate::domain::log::LogLine;

/// Who a call is for; filled in by the host, never by the guest.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub store_id: String,
    pub install_id: String,
    pub plugin: String,
    pub event_id: Option<String>,
    /// The install was granted the `pii` scope: customers' e-mail, phone,
    /// name and birthday reach the plugin (otherwise they arrive empty).
    pub pii: bool,
}

/// Memory limiter that remembers the peak and whether the cap was hit.
pub struct MemoryLimiter {
    cap_bytes: usize,
    pub peak_bytes: usize,
    pub exceeded: bool,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.cap_bytes {
            self.exceeded = true;
            return Ok(false);
        }
        self.peak_bytes = self.peak_bytes.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// The `state` capability's view for one call: the stored keys it has
/// seen, and its writes (applied by the host only if the call succeeds).
///
/// A call on a customer the host has stored state for reads each key
/// when it first asks for it (`StateBuffer::stored`): a customer's state
/// grows with their history (a key per order, say), and a call reads a
/// key or two of it. Runs without a database hold the whole state up
/// front (`StateBuffer::whole`).
#[derive(Debug, Default, Clone)]
pub struct StateBuffer {
    /// Whose stored state a key not seen yet is read from; `None`: `seen`
    /// is all of it.
    customer: Option<String>,
    /// Stored values seen by the call (`None`: not stored).
    seen: HashMap<String, Option<Vec<u8>>>,
    /// Bytes (keys and values) the stored state holds, once known.
    stored_bytes: Option<usize>,
    pub writes: BTreeMap<String, Option<Vec<u8>>>,
}

impl StateBuffer {
    /// The whole state, known before the call.
    pub fn whole(state: HashMap<String, Vec<u8>>) -> Self {
        let stored_bytes = state.iter().map(|(k, v)| k.len() + v.len()).sum();
        let seen = state.into_iter().map(|(k, v)| (k, Some(v))).collect();
        StateBuffer {
            customer: None,
            seen,
            stored_bytes: Some(stored_bytes),
            writes: BTreeMap::new(),
        }
    }

    /// The customer's state as stored for the call's install, each key
    /// read from the host when the call first asks for it.
    pub fn stored(customer: &str) -> Self {
        StateBuffer { customer: Some(customer.to_string()), ..StateBuffer::default() }
    }

    /// The customer whose stored state still has to be asked for `key`.
    fn unseen(&self, key: &str) -> Option<&str> {
        self.customer.as_deref().filter(|_| !self.seen.contains_key(key))
    }

    /// What `key` holds now: this call's write, else the stored value
    /// (which the caller has made sure is seen).
    fn get(&self, key: &str) -> Option<Vec<u8>> {
        match self.writes.get(key) {
            Some(v) => v.clone(),
            None => self.seen.get(key).cloned().flatten(),
        }
    }

    /// The bytes the state would hold with `key` set to `value_len` bytes
    /// (every written key, and `key`, seen).
    fn size_with(&self, key: &str, value_len: usize) -> usize {
        // Signed: the stored total is the database's, and a sum that went
        // wrong there must not panic here.
        let size = |k: &str, v: Option<&Vec<u8>>| v.map_or(0, |v| (k.len() + v.len()) as i64);
        let stored = |k: &str| size(k, self.seen.get(k).and_then(Option::as_ref));
        let mut total = self.stored_bytes.unwrap_or(0) as i64 + (key.len() + value_len) as i64;
        total -= stored(key);
        for (k, v) in self.writes.iter().filter(|(k, _)| *k != key) {
            total += size(k, v.as_ref()) - stored(k);
        }
        total.max(0) as usize
    }
}

/// A message a plugin asked to send.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedMessage {
    pub id: String,
    pub channel: String,
    pub customer_id: String,
    pub template: String,
    pub vars: serde_json::Value,
}

/// WASI with nothing behind it (no files, no sockets, no environment),
/// its output captured: made when the guest first calls a WASI function,
/// which most calls never do.
struct Wasi {
    ctx: WasiCtx,
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
}

impl Wasi {
    fn new() -> Self {
        let stdout = MemoryOutputPipe::new(STDIO_CAPTURE_BYTES);
        let stderr = MemoryOutputPipe::new(STDIO_CAPTURE_BYTES);
        let ctx = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        Wasi { ctx, stdout, stderr }
    }
}

pub struct CallCtx {
    wasi: Option<Wasi>,
    table: ResourceTable,
    pub limiter: MemoryLimiter,
    pub scope: Scope,
    services: Arc<dyn HostServices>,
    pub state: StateBuffer,
    pub outbox: Vec<QueuedMessage>,
    log_lines: u32,
    /// What the plugin wrote in this call, for its outcome and its logs.
    pub lines: Vec<LogLine>,
    /// Set when a host function could not answer: the call then fails
    /// with `host_error`, whatever the guest made of the trap.
    pub host_error: Option<String>,
    /// When the call must end. Nothing a host function does waits past it.
    pub deadline: Instant,
    /// A host function stopped waiting at the deadline (a query, or a WASI
    /// sleep cut short): the call has run out of time.
    pub out_of_time: bool,
    /// The population of the `fit` this call runs, if it runs one.
    pub population: Option<PopulationScope>,
}

impl CallCtx {
    pub fn new(
        scope: Scope,
        services: Arc<dyn HostServices>,
        state: StateBuffer,
        memory_cap_bytes: usize,
        deadline: Instant,
    ) -> Self {
        CallCtx {
            wasi: None,
            table: ResourceTable::new(),
            limiter: MemoryLimiter { cap_bytes: memory_cap_bytes, peak_bytes: 0, exceeded: false },
            scope,
            services,
            state,
            outbox: Vec::new(),
            log_lines: 0,
            lines: Vec::new(),
            host_error: None,
            deadline,
            out_of_time: false,
            population: None,
        }
    }

    /// The host services behind this call's imports.
    pub(super) fn services(&self) -> Arc<dyn HostServices> {
        self.services.clone()
    }

    /// What the guest wrote to stderr in this call.
    pub fn stderr_text(&self) -> String {
        let Some(wasi) = &self.wasi else { return String::new() };
        String::from_utf8_lossy(&wasi.stderr.contents()).into_owned()
    }

    /// Sends what the guest printed to the log, one record per line,
    /// tagged like its log lines, and keeps the lines for the call's trace.
    pub fn flush_stdio(&mut self) {
        let Some(wasi) = &self.wasi else { return };
        let written = [
            ("stdout", "info", wasi.stdout.contents()),
            ("stderr", "warn", wasi.stderr.contents()),
        ];
        for (stream, level, bytes) in written {
            if bytes.is_empty() {
                continue;
            }
            let text = String::from_utf8_lossy(&bytes).into_owned();
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                if self.lines.len() < 2 * MAX_LOG_LINES as usize {
                    self.lines.push(LogLine {
                        level: level.into(),
                        stream: stream.into(),
                        message: line.trim_end().to_string(),
                    });
                }
                tracing::info!(
                    target: "plugin",
                    store = %self.scope.store_id,
                    install = %self.scope.install_id,
                    plugin = %self.scope.plugin,
                    event = self.scope.event_id.as_deref().unwrap_or(""),
                    stream,
                    "{}",
                    printable(line.trim_end())
                );
            }
        }
    }

    /// Records why the host could not answer, and fails the call.
    fn host_failed(&mut self, why: String) -> wasmtime::Error {
        let e = wasmtime::Error::msg(why.clone());
        self.host_error.get_or_insert(why);
        e
    }

    /// Waits for a host service's answer, but not past the call's
    /// deadline: a slow database fails the call with `timeout` at the
    /// deadline instead of holding its worker.
    pub(super) fn answer<T>(&mut self, mut question: HostFuture<'_, T>) -> wasmtime::Result<T> {
        // Most answers are known already (a cached store, a key read with
        // the batch): take those without a trip through the runtime.
        let first = {
            let runtime = tokio::runtime::Handle::try_current().ok();
            let _in_runtime = runtime.as_ref().map(|r| r.enter());
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            question.as_mut().poll(&mut cx)
        };
        let answer = match first {
            std::task::Poll::Ready(answer) => Ok(answer),
            std::task::Poll::Pending => {
                let left = self.deadline.saturating_duration_since(Instant::now());
                wasmtime_wasi::runtime::in_tokio(tokio::time::timeout(left, question))
            }
        };
        match answer {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(why)) => Err(self.host_failed(why)),
            Err(_) => Err(self.ran_out_of_time()),
        }
    }

    /// The store context of this call, about the instant `at` (the event's
    /// time, an `as-of`): the store's currency and time zone from the host,
    /// waited for within the call's deadline like any host answer, and the
    /// zone's offset from UTC then.
    pub fn store_context(&mut self, at: i64) -> wasmtime::Result<types::StoreContext> {
        let (services, store) = (self.services.clone(), self.scope.store_id.clone());
        let info = self.answer(services.store(&store))?;
        let offset_ms = crate::domain::time::utc_offset_ms(&info.timezone, at);
        Ok(types::StoreContext {
            store_id: info.id,
            currency: info.currency,
            timezone: info.timezone,
            at,
            utc_offset_minutes: i32::try_from(offset_ms / 60_000).unwrap_or(0),
        })
    }

    /// Fails the call: its deadline passed while the host waited.
    fn ran_out_of_time(&mut self) -> wasmtime::Error {
        self.out_of_time = true;
        wasmtime::Error::msg("the call's deadline passed in a host call")
    }

    /// A sleep of `nanos` from now, cut at the deadline (and flagged, so
    /// the call ends as a timeout even if the guest returns right after).
    pub fn sleep_within_deadline(&mut self, nanos: u64) -> u64 {
        let left = self.deadline.saturating_duration_since(Instant::now());
        let left = u64::try_from(left.as_nanos()).unwrap_or(u64::MAX);
        if nanos >= left {
            self.out_of_time = true;
            left
        } else {
            nanos
        }
    }
}

/// A plugin's text as it may appear in the server's log: control
/// characters (newlines, carriage returns, ANSI escapes) are written as
/// escapes, so a plugin cannot forge a log line or repaint the terminal.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

impl WasiView for CallCtx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        let wasi = self.wasi.get_or_insert_with(Wasi::new);
        WasiCtxView { ctx: &mut wasi.ctx, table: &mut self.table }
    }
}

impl types::Host for CallCtx {}

impl customers::Host for CallCtx {
    fn get(&mut self, id: String) -> wasmtime::Result<Option<types::Customer>> {
        if !is_valid_id(&id) {
            return Ok(None);
        }
        let (services, store) = (self.services.clone(), self.scope.store_id.clone());
        let found = self.answer(services.customer(&store, &id))?;
        Ok(found.map(|c| convert::customer(&c, self.scope.pii)))
    }

    fn orders(
        &mut self,
        customer_id: String,
        limit: u32,
    ) -> wasmtime::Result<Vec<customers::Order>> {
        if !is_valid_id(&customer_id) {
            return Ok(Vec::new());
        }
        let (services, store) = (self.services.clone(), self.scope.store_id.clone());
        let list = self.answer(services.orders(&store, &customer_id, limit.min(100)))?;
        Ok(list
            .into_iter()
            .map(|o| customers::Order {
                order_id: o.order_id,
                total_cents: o.total_cents,
                currency: o.currency,
                placed_at: o.placed_at,
                refunded_cents: o.refunded_cents,
            })
            .collect())
    }

    fn points_balance(&mut self, customer_id: String) -> wasmtime::Result<i64> {
        if !is_valid_id(&customer_id) {
            return Ok(0);
        }
        let (services, store) = (self.services.clone(), self.scope.store_id.clone());
        self.answer(services.points_balance(&store, &customer_id))
    }
}

impl log::Host for CallCtx {
    fn write(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        self.log_lines += 1;
        if self.log_lines > MAX_LOG_LINES {
            if self.log_lines == MAX_LOG_LINES + 1 {
                tracing::warn!(target: "plugin", install = %self.scope.install_id,
                    "plugin wrote more than {MAX_LOG_LINES} log lines in one call; dropping the rest");
            }
            return Ok(());
        }
        let mut message = message;
        if message.len() > MAX_LOG_LINE {
            message.truncate(message.floor_char_boundary(MAX_LOG_LINE));
        }
        let name = match level {
            log::Level::Trace => "trace",
            log::Level::Debug => "debug",
            log::Level::Info => "info",
            log::Level::Warn => "warn",
            log::Level::Error => "error",
        };
        self.lines.push(LogLine {
            level: name.into(),
            stream: "log".into(),
            message: message.clone(),
        });
        let message = printable(&message);
        let s = &self.scope;
        let event = s.event_id.as_deref().unwrap_or("");
        macro_rules! emit {
            ($lvl:ident) => {
                tracing::$lvl!(target: "plugin", store = %s.store_id, install = %s.install_id,
                    plugin = %s.plugin, event, "{message}")
            };
        }
        match level {
            log::Level::Trace => emit!(trace),
            log::Level::Debug => emit!(debug),
            log::Level::Info => emit!(info),
            log::Level::Warn => emit!(warn),
            log::Level::Error => emit!(error),
        }
        Ok(())
    }
}

impl CallCtx {
    /// Makes sure the call has seen the stored `key` (and so the stored
    /// state's size): asks the host, within the call's deadline, the
    /// first time.
    fn see_state(&mut self, key: &str) -> wasmtime::Result<()> {
        let Some(customer) = self.state.unseen(key).map(str::to_string) else {
            return Ok(());
        };
        let (services, install) = (self.services.clone(), self.scope.install_id.clone());
        let found = self.answer(services.state_key(&install, &customer, key))?;
        self.state.stored_bytes.get_or_insert(found.bytes);
        self.state.seen.insert(key.to_string(), found.value);
        Ok(())
    }
}

impl state::Host for CallCtx {
    fn get(&mut self, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
        if key.is_empty() || key.len() > MAX_STATE_KEY {
            return Ok(None);
        }
        if !self.state.writes.contains_key(&key) {
            self.see_state(&key)?;
        }
        Ok(self.state.get(&key))
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<Result<(), String>> {
        if key.is_empty() || key.len() > MAX_STATE_KEY {
            return Ok(Err(format!("state keys are 1-{MAX_STATE_KEY} bytes")));
        }
        self.see_state(&key)?;
        if self.state.size_with(&key, value.len()) > MAX_STATE_BYTES {
            return Ok(Err(format!("state for one customer is capped at {MAX_STATE_BYTES} bytes")));
        }
        self.state.writes.insert(key, Some(value));
        Ok(Ok(()))
    }

    fn delete(&mut self, key: String) -> wasmtime::Result<()> {
        if key.is_empty() || key.len() > MAX_STATE_KEY {
            return Ok(());
        }
        self.see_state(&key)?;
        if self.state.seen.get(&key).is_some_and(Option::is_some) {
            self.state.writes.insert(key, None);
        } else {
            self.state.writes.remove(&key);
        }
        Ok(())
    }
}

impl messaging::Host for CallCtx {
    fn send(
        &mut self,
        channel: String,
        customer_id: String,
        template: String,
        vars: String,
    ) -> wasmtime::Result<Result<String, String>> {
        Ok(self.queue(channel, customer_id, template, vars))
    }
}

impl CallCtx {
    fn queue(
        &mut self,
        channel: String,
        customer_id: String,
        template: String,
        vars: String,
    ) -> Result<String, String> {
        if self.outbox.len() >= MAX_MESSAGES_PER_CALL {
            return Err(format!("at most {MAX_MESSAGES_PER_CALL} messages per call"));
        }
        if !is_valid_id(&channel) || !is_valid_id(&template) {
            return Err("channel and template must be 1-64 characters of [A-Za-z0-9._:-]".into());
        }
        if !is_valid_id(&customer_id) {
            return Err("customer-id is not a valid id".into());
        }
        if vars.len() > 16 * 1024 {
            return Err("vars must be at most 16 KiB".into());
        }
        let vars: serde_json::Value = match serde_json::from_str(&vars) {
            Ok(v @ serde_json::Value::Object(_)) => v,
            _ => return Err("vars must be a JSON object".into()),
        };
        let id = crate::domain::ids::random_id("msg");
        self.outbox.push(QueuedMessage { id: id.clone(), channel, customer_id, template, vars });
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::{printable, StateBuffer};
    use std::collections::HashMap;

    #[test]
    fn state_size_counts_stored_written_and_deleted_keys() {
        let whole = StateBuffer::whole(HashMap::from([
            ("a".to_string(), vec![0; 10]),
            ("bb".to_string(), vec![0; 20]),
        ]));
        // Stored: 11 + 22 bytes.
        assert_eq!(whole.size_with("c", 5), 33 + 6);
        assert_eq!(whole.size_with("a", 5), 22 + 6);
        let mut b = whole.clone();
        b.writes.insert("bb".into(), None);
        b.writes.insert("new".into(), Some(vec![0; 7]));
        assert_eq!(b.size_with("a", 1), 2 + 10);
        assert_eq!(b.get("bb"), None);
        assert_eq!(b.get("a"), Some(vec![0; 10]));

        // Read key by key: the stored total comes from the host, the keys
        // one at a time as the call touches them.
        let mut lazy = StateBuffer::stored("c1");
        assert_eq!(lazy.unseen("a"), Some("c1"));
        lazy.stored_bytes = Some(33);
        lazy.seen.insert("a".into(), Some(vec![0; 10]));
        lazy.seen.insert("zz".into(), None);
        assert_eq!(lazy.unseen("a"), None);
        assert_eq!(lazy.size_with("a", 1), 22 + 2);
        assert_eq!(lazy.size_with("zz", 1), 33 + 3);
        lazy.writes.insert("a".into(), None);
        assert_eq!(lazy.size_with("zz", 1), 22 + 3);
        // A total that went wrong in the database does not underflow.
        lazy.stored_bytes = Some(0);
        assert_eq!(lazy.size_with("zz", 0), 0);
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(printable("plain text, 中文"), "plain text, 中文");
        assert_eq!(
            printable("ok\n2099-01-01 ERROR forged\r\u{1b}[31mred"),
            "ok\\n2099-01-01 ERROR forged\\r\\u{1b}[31mred"
        );
        assert_eq!(printable("a\tb\u{7f}"), "a\\tb\\u{7f}");
    }
}

/// The population a `fit` was handed: the instant it is as of, and its
/// rows' customers in order (what `population` functions answer along).
#[derive(Debug, Clone)]
pub struct PopulationScope {
    pub as_of: crate::domain::time::Millis,
    pub customers: Arc<[String]>,
}
