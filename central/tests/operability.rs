#![allow(clippy::unwrap_used)]
//! What a load balancer and Prometheus see of a real `central serve`: `/healthz` while the
//! process answers, `/readyz` while its database does, and `/metrics` (only with the token)
//! counting requests by route, the events a kiosk sent by outcome, and each kiosk's last
//! contact and backlog. On SQLite and PostgreSQL.

mod common;

use kiosk_api::Stream;

const TOKEN: &str = "scrape-me-7f3a";

fn sample(metrics: &str, name_and_labels: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_metrics_for_a_load_balancer_and_prometheus() {
    for db in common::databases().await {
        let setup = common::serve_setup(&db).await;
        let token = setup.token.clone();
        let holder_keys = setup.holder_keys.as_str();
        let server = common::Server::start_with_env(
            &db.url,
            holder_keys,
            &[],
            &[("CENTRAL_METRICS_TOKEN", TOKEN)],
        );
        let base = server.1.clone();
        let http = reqwest::Client::new();

        let healthz = http.get(format!("{base}/healthz")).send().await.unwrap();
        assert_eq!(healthz.status(), 200, "{}: the process answers", db.name);
        let readyz = http.get(format!("{base}/readyz")).send().await.unwrap();
        assert_eq!(readyz.status(), 200, "{}: the database answers", db.name);

        // A kiosk enrols, sends two events, then the same two again (duplicates).
        let kiosk = common::Kiosk::enrol(&base, &http, &token).await;
        let events = [
            common::event(1, Stream::Telemetry, "screen_shown"),
            common::event(2, Stream::Telemetry, "screen_shown"),
        ];
        assert_eq!(kiosk.post_events(&events).await.status(), 200);
        assert_eq!(kiosk.post_events(&events).await.status(), 200);

        // Without the token the kiosks' state is not for anyone to read.
        let anonymous = http.get(format!("{base}/metrics")).send().await.unwrap();
        assert_eq!(anonymous.status(), 401, "{}", db.name);
        let wrong = http
            .get(format!("{base}/metrics"))
            .bearer_auth("scrape-me-7f3b")
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401, "{}", db.name);

        let metrics = http
            .get(format!("{base}/metrics"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(metrics.status(), 200);
        assert!(
            metrics.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain; version=0.0.4")
        );
        let text = metrics.text().await.unwrap();
        assert_eq!(
            sample(&text, "central_events_total{outcome=\"stored\"}"),
            Some(2.0),
            "{}:\n{text}",
            db.name
        );
        assert_eq!(
            sample(&text, "central_events_total{outcome=\"duplicate\"}"),
            Some(2.0)
        );
        assert_eq!(
            sample(
                &text,
                "central_http_requests_total{route=\"/v1/events\",method=\"POST\",status=\"200\"}"
            ),
            Some(2.0),
            "{text}"
        );
        assert_eq!(
            sample(
                &text,
                "central_http_request_duration_seconds_count{route=\"/v1/events\"}"
            ),
            Some(2.0)
        );
        let seen = sample(
            &text,
            &format!(
                "central_kiosk_last_seen_seconds{{kiosk=\"{}\",hall=\"dongcheng-main\"}}",
                kiosk.id()
            ),
        )
        .unwrap_or_else(|| panic!("the kiosk's last contact:\n{text}"));
        let now = chrono::Utc::now().timestamp() as f64;
        assert!((now - seen).abs() < 120.0, "last seen {seen}, now {now}");
        // Random paths are counted under one name, so a scan cannot grow the metrics.
        for i in 0..20 {
            let _ = http
                .get(format!("{base}/no/such/{i}"))
                .send()
                .await
                .unwrap();
        }
        let text = http
            .get(format!("{base}/metrics"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!text.contains("/no/such"), "{text}");
        server.stop();

        // Without a token configured, /metrics does not exist.
        let bare = common::Server::start(&db.url, holder_keys);
        let off = http
            .get(format!("{}/metrics", bare.1))
            .send()
            .await
            .unwrap();
        assert_eq!(off.status(), 404);
        bare.stop();
    }
}
