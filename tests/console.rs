//! The web console at /_smemu/ui: what is served, with which headers, and who may load it.
mod common;

use common::{Raw, TestServer};
use smemu::auth::AuthMode;
use smemu::config::Config;
use smemu::guard::ControlToken;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

async fn request(server: &TestServer, method: &str, path: &str, headers: &[(&str, &str)]) -> Raw {
    let mut head = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        head.push_str(&format!("Host: {}\r\n", server.addr));
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    server.raw_bytes(head.as_bytes()).await
}

async fn get(server: &TestServer, path: &str) -> Raw {
    request(server, "GET", path, &[]).await
}

fn text(raw: &Raw) -> String {
    String::from_utf8_lossy(&raw.body).into_owned()
}

fn with_token(token: &str) -> Config {
    Config { control_token: Some(ControlToken::new(token).unwrap()), ..Config::default() }
}

#[tokio::test]
async fn the_page_and_its_assets_are_served_with_their_types_and_a_strict_policy() {
    let server = TestServer::start().await;
    for (path, media) in [
        ("/_smemu/ui", "text/html; charset=utf-8"),
        ("/_smemu/ui/", "text/html; charset=utf-8"),
        ("/_smemu/ui/console.js", "text/javascript; charset=utf-8"),
        ("/_smemu/ui/console.css", "text/css; charset=utf-8"),
    ] {
        let raw = get(&server, path).await;
        assert_eq!(raw.status, 200, "{path}");
        assert_eq!(raw.header("content-type"), Some(media), "{path}");
        assert_eq!(raw.header("content-security-policy"), Some(CSP), "{path}");
        assert_eq!(raw.header("x-content-type-options"), Some("nosniff"), "{path}");
        assert_eq!(raw.header("x-frame-options"), Some("DENY"), "{path}");
        assert_eq!(raw.header("referrer-policy"), Some("no-referrer"), "{path}");
        assert_eq!(raw.header("cache-control"), Some("no-cache"), "{path}");
        assert!(!raw.body.is_empty(), "{path}");
    }
    let page = text(&get(&server, "/_smemu/ui").await);
    assert!(page.contains(r#"<script src="/_smemu/ui/console.js" defer></script>"#), "{page}");
    assert!(page.contains(r#"<link rel="stylesheet" href="/_smemu/ui/console.css">"#), "{page}");
    server.stop().await;
}

#[tokio::test]
async fn the_assets_need_nothing_the_policy_forbids() {
    let server = TestServer::start().await;
    let page = text(&get(&server, "/_smemu/ui").await);
    // No inline script, style or handler: the policy would block them.
    assert_eq!(page.matches("<script").count(), page.matches("<script src=\"/_smemu/ui/").count());
    assert!(!page.contains("<style") && !page.contains(" style=") && !page.contains(" onclick="), "{page}");
    for path in ["/_smemu/ui", "/_smemu/ui/console.js", "/_smemu/ui/console.css"] {
        let body = text(&get(&server, path).await);
        // Nothing loads from elsewhere: no CDN, no network.
        assert!(!body.contains("http://") && !body.contains("https://") && !body.contains("//cdn"), "{path}");
        assert!(!body.contains("eval(") && !body.contains("new Function") && !body.contains("innerHTML"), "{path}");
    }
    server.stop().await;
}

#[tokio::test]
async fn head_revalidation_and_wrong_methods() {
    let server = TestServer::start().await;
    let full = get(&server, "/_smemu/ui/console.js").await;
    let etag = full.header("etag").unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");

    let head = request(&server, "HEAD", "/_smemu/ui/console.js", &[]).await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-type"), Some("text/javascript; charset=utf-8"));
    assert!(head.body.is_empty());

    let again = request(&server, "GET", "/_smemu/ui/console.js", &[("If-None-Match", &etag)]).await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    let other = get(&server, "/_smemu/ui").await;
    assert_ne!(other.header("etag"), Some(etag.as_str()));

    for method in ["POST", "PUT", "DELETE"] {
        let raw = request(&server, method, "/_smemu/ui", &[("Content-Length", "0")]).await;
        assert_eq!(raw.status, 405, "{method}");
        assert_eq!(raw.header("allow"), Some("GET, HEAD"), "{method}");
        assert!(raw.json()["error"].as_str().unwrap().contains("GET and HEAD"), "{method}");
    }
    server.stop().await;
}

#[tokio::test]
async fn only_the_console_files_are_served() {
    let server = TestServer::start().await;
    for path in [
        "/_smemu/ui/nope.js",
        "/_smemu/ui/../state",
        "/_smemu/ui/%2e%2e/state",
        "/_smemu/ui//console.js",
        "/_smemu/ui/console.js/",
        "/_smemu/ui/assets/index.html",
    ] {
        let raw = get(&server, path).await;
        assert_eq!(raw.status, 404, "{path}");
        assert_eq!(raw.header("content-type"), Some("application/json"), "{path}");
        assert!(!text(&raw).contains("secret"), "{path}");
    }
    // Not a prefix match: /_smemu/uix is the control API's, which has no such endpoint.
    let raw = get(&server, "/_smemu/uix").await;
    assert_eq!(raw.status, 404);
    assert!(raw.json()["error"].as_str().unwrap().contains("no control endpoint"));
    // The control API's listing points at the console.
    assert_eq!(get(&server, "/_smemu").await.json()["console"], "/_smemu/ui");
    server.stop().await;
}

#[tokio::test]
async fn the_page_needs_no_token_but_what_it_reads_does() {
    let server = TestServer::start_with(with_token("console-token")).await;
    for path in ["/_smemu/ui", "/_smemu/ui/console.js", "/_smemu/ui/console.css"] {
        assert_eq!(get(&server, path).await.status, 200, "{path}");
    }
    // The page holds no data: what it shows comes from the control API, which asks for the token.
    assert_eq!(get(&server, "/_smemu/clock").await.status, 403);
    assert_eq!(get(&server, "/_smemu/state").await.status, 403);
    let tokened = request(&server, "GET", "/_smemu/clock", &[("X-Smemu-Control-Token", "console-token")]).await;
    assert_eq!(tokened.status, 200);
    // A wrong token does not stop the page from loading (it can then ask for the right one).
    let wrong = request(&server, "GET", "/_smemu/ui", &[("X-Smemu-Control-Token", "wrong")]).await;
    assert_eq!(wrong.status, 200);
    server.stop().await;

    // Locked (--auth strict, no token): the page still loads, and says what the API answers.
    let locked = TestServer::start_with(Config { auth_mode: AuthMode::Strict, ..Config::default() }).await;
    assert_eq!(get(&locked, "/_smemu/ui").await.status, 200);
    let refused = get(&locked, "/_smemu/clock").await;
    assert_eq!(refused.status, 403);
    assert!(refused.json()["error"].as_str().unwrap().contains("locked"));
    locked.stop().await;
}

#[tokio::test]
async fn the_pages_own_origin_passes_and_a_foreign_one_is_refused() {
    let server = TestServer::start().await;
    let own = format!("http://{}", server.addr);
    for origin in [own.as_str(), "http://localhost:4566", "http://[::1]:4566"] {
        let page = request(&server, "GET", "/_smemu/ui", &[("Origin", origin)]).await;
        assert_eq!(page.status, 200, "{origin}");
        let clock = request(&server, "GET", "/_smemu/clock", &[("Origin", origin)]).await;
        assert_eq!(clock.status, 200, "{origin}");
        let list = server
            .raw(
                "POST",
                &[
                    ("Origin", origin),
                    ("Content-Type", "application/x-amz-json-1.1"),
                    ("X-Amz-Target", "secretsmanager.ListSecrets"),
                ],
                b"{}",
            )
            .await;
        assert_eq!(list.status, 200, "{origin}");
    }
    for origin in ["https://evil.example", "null", "http://localhost.evil.example"] {
        let page = request(&server, "GET", "/_smemu/ui/console.js", &[("Origin", origin)]).await;
        assert_eq!(page.status, 403, "{origin}");
        assert!(page.json()["error"].as_str().unwrap().contains("--allowed-hosts"), "{origin}");
        assert_eq!(page.header("content-security-policy"), Some(CSP));
        let clock = request(&server, "GET", "/_smemu/clock", &[("Origin", origin)]).await;
        assert_eq!(clock.status, 403, "{origin}");
        let list = server
            .raw(
                "POST",
                &[
                    ("Origin", origin),
                    ("Content-Type", "application/x-amz-json-1.1"),
                    ("X-Amz-Target", "secretsmanager.ListSecrets"),
                ],
                b"{}",
            )
            .await;
        assert_eq!(list.status, 403, "{origin}");
        assert_eq!(list.json()["__type"], "AccessDeniedException", "{origin}");
        assert!(list.json()["Message"].as_str().unwrap().contains(origin), "{origin}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_rebound_name_gets_the_page_but_not_the_data_behind_it() {
    let server = TestServer::start().await;
    let rebound = [("Host", "rebind.evil.example:4566")];
    // The page is the same static text for everyone; nothing in it is worth a rebinding.
    assert_eq!(request(&server, "GET", "/_smemu/ui", &rebound).await.status, 200);
    // What it would read is refused for that Host, as before.
    assert_eq!(request(&server, "GET", "/_smemu/state", &rebound).await.status, 403);
    assert_eq!(request(&server, "GET", "/_smemu/clock", &rebound).await.status, 403);
    server.stop().await;
}

#[tokio::test]
async fn the_page_is_served_while_state_loads() {
    let server = TestServer::start().await;
    server.app.set_ready(false);
    assert_eq!(get(&server, "/_smemu/ui").await.status, 200);
    assert_eq!(get(&server, "/_smemu/clock").await.status, 503);
    server.app.set_ready(true);
    server.stop().await;
}
