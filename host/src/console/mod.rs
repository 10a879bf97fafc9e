//! The web console, served by `clientele serve` itself: merchants sign in
//! with their store's API key and see that store; ops sign in with the
//! admin token and see every store, plugin and install.
//!
//! The pages are one small application (`assets/app.js`, no framework, no
//! build step) embedded in the binary, that reads and writes through the
//! same HTTP API as every other client, authenticated by the session
//! cookie (`session`). The server's part is signing in and out, and
//! refusing a page the session may not see with a bare 404, before any
//! of it is sent.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;

use crate::api::auth::{Caller, Peer};
use crate::api::session;
use crate::api::AppState;
use crate::domain::time::now_ms;

const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// The console's routes, merged into the API's router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/sign-in", get(sign_in_page).post(sign_in))
        .route("/sign-out", post(sign_out))
        .route("/console/session", get(session_info))
        .route("/console/app.js", get(|| asset(APP_JS, "text/javascript")))
        .route("/console/app.css", get(|| asset(APP_CSS, "text/css")))
        .route("/stores/{store}", get(store_page))
        .route("/stores/{store}/{*rest}", get(store_subpage))
        .route("/ops", get(ops_page))
        .route("/ops/{*rest}", get(ops_page))
}

/// The languages of the console: English, and Simplified Chinese.
#[derive(Clone, Copy, PartialEq)]
enum Lang {
    En,
    Zh,
}

impl Lang {
    /// The `lang` cookie (the switch), else the browser's first choice.
    fn of(headers: &HeaderMap) -> Lang {
        if let Some(l) = session::cookie(headers, "clientele_lang") {
            return if l == "zh" { Lang::Zh } else { Lang::En };
        }
        let accept =
            headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let first = accept.split(',').next().unwrap_or("").trim().to_ascii_lowercase();
        if first.starts_with("zh") {
            Lang::Zh
        } else {
            Lang::En
        }
    }

    fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-CN",
        }
    }

    fn t(self, en: &'static str, zh: &'static str) -> &'static str {
        match self {
            Lang::En => en,
            Lang::Zh => zh,
        }
    }
}

/// Headers every console page carries: no framing, no other origin's
/// scripts, no caching of a signed-in page.
fn page(status: StatusCode, html: String) -> Response {
    let mut r = (status, html).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    r
}

async fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    r
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn document(lang: Lang, title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · Clientele</title><link rel=\"stylesheet\" href=\"/console/app.css\"></head>\
         <body>{body}</body></html>",
        lang.code(),
        escape(title)
    )
}

/// Who the request's session cookie signs in, if anyone.
async fn signed_in(state: &AppState, headers: &HeaderMap) -> Option<Caller> {
    state.sessions.of_request(&state.pipeline.db, headers, now_ms()).await.map(|(_, who)| who)
}

/// Where a session's console opens: ops for the admin, the store's
/// overview for its key.
fn landing(who: &Caller) -> String {
    match who {
        Caller::Admin => "/ops".to_string(),
        Caller::Store(s) => format!("/stores/{s}"),
    }
}

fn secure(headers: &HeaderMap) -> bool {
    headers.get("x-forwarded-proto").is_some_and(|v| v.as_bytes() == b"https")
}

async fn home(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let to =
        signed_in(&state, &headers).await.map_or_else(|| "/sign-in".to_string(), |w| landing(&w));
    Redirect::to(&to).into_response()
}

/// The sign-in form, with a CSRF token paired with a fresh nonce cookie.
async fn sign_in_page(
    State(state): State<AppState>,
    Peer(peer): Peer,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = plain_http_refused(&state, &headers, peer) {
        return refused;
    }
    form_page(&state, &headers, None)
}

/// Signing in sends a key, and the session cookie it gets back opens the
/// store: over plain HTTP from another machine both cross the network
/// readable. Refused then, unless the server was started with
/// `--insecure-http`; behind an HTTPS proxy (`X-Forwarded-Proto: https`)
/// or from this machine it is allowed.
fn plain_http_refused(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<std::net::SocketAddr>,
) -> Option<Response> {
    if sign_in_allowed(secure(headers), peer, state.insecure_http) {
        return None;
    }
    let lang = Lang::of(headers);
    let body = format!(
        "<main class=\"sign-in\"><h1>HTTPS</h1><p>{}</p></main>",
        lang.t(
            "Signing in over plain HTTP would send your key and session across the network \
             readable. Open the console through HTTPS (a proxy that sets X-Forwarded-Proto: https), \
             or ask ops to start the server with --insecure-http.",
            "通过明文 HTTP 登录会让密钥和会话在网络上以明文传输。请通过 HTTPS 打开控制台（代理需设置 \
             X-Forwarded-Proto: https），或请运维以 --insecure-http 启动服务。"
        )
    );
    Some(page(StatusCode::FORBIDDEN, document(lang, "HTTPS", &body)))
}

/// Signing in is allowed behind HTTPS, from this machine, or anywhere
/// with `--insecure-http`.
fn sign_in_allowed(https: bool, peer: Option<std::net::SocketAddr>, insecure_http: bool) -> bool {
    https || insecure_http || peer.is_none_or(|p| p.ip().is_loopback())
}

fn form_page(state: &AppState, headers: &HeaderMap, error: Option<&str>) -> Response {
    let lang = Lang::of(headers);
    let nonce = crate::domain::ids::random_token();
    let csrf = state.sessions.csrf(&nonce);
    let error = error
        .map(|e| {
            format!("<p class=\"error\" role=\"alert\" id=\"sign-in-error\">{}</p>", escape(e))
        })
        .unwrap_or_default();
    let body = format!(
        "<main class=\"sign-in\"><h1>Clientele</h1>\
         <form method=\"post\" action=\"/sign-in\" aria-describedby=\"sign-in-help\">\
         <h2>{title}</h2>{error}\
         <label for=\"token\">{label}</label>\
         <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" required autofocus>\
         <p id=\"sign-in-help\" class=\"help\">{help}</p>\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <button type=\"submit\">{submit}</button></form>\
         <p class=\"langs\"><a href=\"/sign-in\" data-lang=\"en\" lang=\"en\">English</a> · \
         <a href=\"/sign-in\" data-lang=\"zh\" lang=\"zh-CN\">简体中文</a></p>\
         <script type=\"module\" src=\"/console/app.js\"></script></main>",
        title = lang.t("Sign in", "登录"),
        label = lang.t("Store API key or admin token", "店铺 API 密钥或管理员令牌"),
        help = lang.t(
            "Merchants sign in with their store's key and see that store; ops sign in with the admin token.",
            "商家使用店铺密钥登录，只能查看自己的店铺；运维使用管理员令牌登录。"
        ),
        submit = lang.t("Sign in", "登录"),
    );
    let status = if error.is_empty() { StatusCode::OK } else { StatusCode::UNAUTHORIZED };
    with_cookies(
        page(status, document(lang, lang.t("Sign in", "登录"), &body)),
        &[session::set_cookie(session::SIGN_IN_COOKIE, &nonce, 3600, secure(headers))],
    )
}

#[derive(Deserialize)]
struct SignIn {
    token: String,
    csrf: String,
}

async fn sign_in(
    State(state): State<AppState>,
    Peer(peer): Peer,
    headers: HeaderMap,
    Form(form): Form<SignIn>,
) -> Response {
    if let Some(refused) = plain_http_refused(&state, &headers, peer) {
        return refused;
    }
    let lang = Lang::of(&headers);
    if let Err(seconds) = state.attempts.check(peer) {
        return crate::api::ApiError::throttled(seconds).into_response();
    }
    let nonce = session::cookie(&headers, session::SIGN_IN_COOKIE).unwrap_or_default();
    if nonce.is_empty() || !state.sessions.csrf_ok(nonce, &form.csrf) {
        let why = lang.t("The form expired; sign in again.", "表单已过期，请重新登录。");
        return form_page(&state, &headers, Some(why));
    }
    let who = match identify(&state, form.token.trim()).await {
        Some(who) => who,
        None => {
            state.attempts.failed(peer);
            tracing::info!("console sign-in refused");
            let why = lang.t("That key or token is not known here.", "该密钥或令牌无效。");
            return form_page(&state, &headers, Some(why));
        }
    };
    let now = now_ms();
    let value =
        match state.sessions.begin(&state.pipeline.db, &who, now, now + session::LIFETIME_MS).await
        {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "console sign-in failed: the session could not be kept");
                let why = lang.t(
                    "The service cannot sign you in right now; try again in a moment.",
                    "服务暂时无法登录，请稍后再试。",
                );
                return form_page(&state, &headers, Some(why));
            }
        };
    let to = landing(&who);
    tracing::info!(who = ?who, "console sign-in");
    let secure = secure(&headers);
    with_cookies(
        Redirect::to(&to).into_response(),
        &[
            session::set_cookie(session::COOKIE, &value, session::LIFETIME_MS / 1000, secure),
            session::set_cookie(session::SIGN_IN_COOKIE, "", 0, secure),
        ],
    )
}

/// The response, setting these cookies.
fn with_cookies(mut r: Response, cookies: &[String]) -> Response {
    for cookie in cookies {
        if let Ok(v) = HeaderValue::from_str(cookie) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    r
}

/// The admin token, or a store's key.
async fn identify(state: &AppState, token: &str) -> Option<Caller> {
    if token.is_empty() {
        return None;
    }
    Caller::of_token(state, token).await.ok().flatten()
}

#[derive(Deserialize)]
struct SignOut {
    csrf: String,
}

async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<SignOut>,
) -> Response {
    let value = session::cookie(&headers, session::COOKIE).unwrap_or_default();
    if !state.sessions.csrf_ok(value, &form.csrf) {
        return (StatusCode::FORBIDDEN, "sign-out needs the session's CSRF token").into_response();
    }
    // Ended on the server: the cookie stops working on every node, not
    // only in this browser.
    if let Err(e) = state.sessions.end(&state.pipeline.db, value).await {
        tracing::warn!(error = %e, "sign-out: the session could not be ended");
        return (StatusCode::SERVICE_UNAVAILABLE, "the session could not be ended; try again")
            .into_response();
    }
    with_cookies(
        Redirect::to("/sign-in").into_response(),
        &[session::set_cookie(session::COOKIE, "", 0, secure(&headers))],
    )
}

/// What the console's pages need to know of the session: who, which store
/// (with its currency and time zone), and the CSRF token for writes.
async fn session_info(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some((value, who)) =
        state.sessions.of_request(&state.pipeline.db, &headers, now_ms()).await
    else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let (role, store) = match &who {
        Caller::Admin => ("admin", None),
        Caller::Store(s) => ("store", Some(s.clone())),
    };
    let mut r = Json(serde_json::json!({
        "role": role,
        "store": store,
        "csrf": state.sessions.csrf(value),
        "lang": match Lang::of(&headers) { Lang::En => "en", Lang::Zh => "zh" },
    }))
    .into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// A page nobody signed in may see, or this session may not: the same
/// bare 404 as a page that does not exist, with nothing of the store in it.
fn not_found(lang: Lang) -> Response {
    let body = format!(
        "<main class=\"sign-in\"><h1>404</h1><p>{}</p><p><a href=\"/\">{}</a></p></main>",
        lang.t("There is no such page.", "页面不存在。"),
        lang.t("Back to the console", "返回控制台")
    );
    page(StatusCode::NOT_FOUND, document(lang, lang.t("Not found", "未找到"), &body))
}

/// The application's page, for a session that may see it.
fn shell(lang: Lang) -> Response {
    let body = "<div id=\"app\" aria-live=\"polite\"><p class=\"loading\">…</p></div>\
                <script type=\"module\" src=\"/console/app.js\"></script>";
    page(StatusCode::OK, document(lang, "Console", body))
}

async fn store_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(store): Path<String>,
) -> Response {
    store_view(&state, &headers, &store).await
}

async fn store_subpage(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((store, _rest)): Path<(String, String)>,
) -> Response {
    store_view(&state, &headers, &store).await
}

async fn store_view(state: &AppState, headers: &HeaderMap, store: &str) -> Response {
    let lang = Lang::of(headers);
    match signed_in(state, headers).await {
        None => Redirect::to("/sign-in").into_response(),
        Some(who) => match who.require_store(state, store).await {
            Ok(()) => shell(lang),
            Err(_) => not_found(lang),
        },
    }
}

async fn ops_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let lang = Lang::of(&headers);
    match signed_in(&state, &headers).await {
        None => Redirect::to("/sign-in").into_response(),
        Some(Caller::Admin) => shell(lang),
        Some(Caller::Store(_)) => not_found(lang),
    }
}

#[cfg(test)]
mod tests {
    use super::sign_in_allowed;

    #[test]
    fn plain_http_sign_in_only_from_this_machine_unless_allowed() {
        let far = Some("203.0.113.7:5000".parse().unwrap());
        let near = Some("127.0.0.1:5000".parse().unwrap());
        let near6 = Some("[::1]:5000".parse().unwrap());
        assert!(!sign_in_allowed(false, far, false));
        assert!(sign_in_allowed(true, far, false), "behind HTTPS");
        assert!(sign_in_allowed(false, far, true), "--insecure-http");
        assert!(sign_in_allowed(false, near, false));
        assert!(sign_in_allowed(false, near6, false));
    }
}
