//! The control plane: tokens, browsers (CSRF, DNS rebinding), hooks and the clock.

use crate::common::{START, TestServer};

fn text(r: &crate::common::Raw) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

#[tokio::test]
async fn the_clock_refuses_to_jump_past_its_horizon() {
    let server = TestServer::start().await;
    let sm = server.client();
    sm.create_secret().name("doomed").secret_string("x").send().await.unwrap();
    sm.delete_secret().secret_id("doomed").recovery_window_in_days(7).send().await.unwrap();
    for body in [
        r#"{"advance":"106751991167d"}"#,
        r#"{"advance":"36526d"}"#,
        r#"{"advance":"5300w"}"#,
        r#"{"advance":"9223372036854775807ms"}"#,
        r#"{"set":1e300}"#,
        r#"{"set":9.3e15}"#,
        r#"{"set":"292278994-08-17T07:12:55.807Z"}"#,
        r#"{"set":"2127-01-01T00:00:00Z"}"#,
        r#"{"set":"99999-01-01"}"#,
    ] {
        let r = server.control("POST", "/_smemu/clock", body).await;
        assert_eq!(r.status, 400, "{body}: {}", text(&r));
        let message = r.json()["error"].as_str().unwrap().to_owned();
        assert!(message.contains("100 years") || message.contains("cannot read the instant"), "{body}: {message}");
    }
    assert_eq!(server.clock.now().millis(), START * 1000, "every refused move left the clock alone");
    assert_eq!(server.app.engine.secret_count(), 1, "no window expired");
    // The horizon itself is allowed.
    let r = server.control("POST", "/_smemu/clock", r#"{"advance":"36525d"}"#).await;
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(r.json()["now"], "2126-01-02T00:00:00.000Z", "36525 days: 100 years of 365.25 days");
}

#[tokio::test]
async fn clock_input_never_overflows() {
    let server = TestServer::start().await;
    for body in [
        r#"{"set":"2026-01-01T-9223372036854775808:00:00Z"}"#,
        r#"{"set":"2026-01-01T99999999999999999999:00:00Z"}"#,
        r#"{"set":"9223372036854775807-01-01"}"#,
        r#"{"set":"-9223372036854775807-01-01"}"#,
        r#"{"set":-1e300}"#,
        r#"{"set":"NaN"}"#,
        r#"{"advance":"99999999999999999999d"}"#,
        r#"{"advance":"-1d"}"#,
    ] {
        let r = server.control("POST", "/_smemu/clock", body).await;
        assert_eq!(r.status, 400, "{body}: {}", text(&r));
    }
    assert_eq!(server.clock.now().millis(), START * 1000);
}

#[tokio::test]
async fn the_clock_reaches_its_last_instant_and_stops_there() {
    let server = TestServer::start().await;
    let sm = server.client();
    sm.create_secret().name("kept").secret_string("v1").send().await.unwrap();
    sm.create_secret().name("gone").secret_string("v1").send().await.unwrap();
    sm.delete_secret().secret_id("gone").recovery_window_in_days(30).send().await.unwrap();
    let mut moves = 0;
    loop {
        let r = server.control("POST", "/_smemu/clock", r#"{"advance":"36525d"}"#).await;
        if r.status == 400 {
            break;
        }
        assert_eq!(r.status, 200, "{}", text(&r));
        moves += 1;
        assert!(moves < 100, "the clock kept going: {}", text(&r));
    }
    let r = server.control("POST", "/_smemu/clock", r#"{"set":"9999-12-31T23:59:59.999Z"}"#).await;
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(server.control("POST", "/_smemu/clock", r#"{"advance":"1ms"}"#).await.status, 400);
    assert_eq!(server.control("GET", "/_smemu/clock", "").await.json()["now"], "9999-12-31T23:59:59.999Z");
    assert_eq!(server.app.engine.secret_count(), 1);
    assert!(sm.get_secret_value().secret_id("kept").send().await.is_ok());
    let described = sm.describe_secret().secret_id("kept").send().await.unwrap();
    assert_eq!(described.last_accessed_date().unwrap().secs(), 253_402_214_400, "9999-12-31, the day it was read");
}
