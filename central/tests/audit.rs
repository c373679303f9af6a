//! Who did what (issue 17 item 9) through the `central` binary: every state-changing ops
//! command leaves an audit row naming who ran it, `--as USER` is held to that console user's
//! role, and removing a user or changing a password ends their sessions. SQLite and
//! PostgreSQL.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use central::store::{AuditEntry, LoginOutcome};
use common::{BIN, databases};

fn run(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env("USER", "ops-shell")
        .env_remove("SUDO_USER")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn ok(args: &[&str], stdin: &str) -> String {
    let out = run(args, stdin);
    assert!(
        out.status.success(),
        "central {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn refused(args: &[&str]) -> String {
    let out = run(args, "");
    assert!(!out.status.success(), "central {args:?} was allowed");
    String::from_utf8(out.stderr).unwrap()
}

async fn log(store: &central::Store) -> Vec<AuditEntry> {
    let (entries, total) = store.audit_log(1000, 0).await.unwrap();
    assert_eq!(usize::try_from(total).unwrap(), entries.len());
    assert!(
        entries.windows(2).all(|w| w[0].id > w[1].id),
        "newest first"
    );
    entries
}

/// The newest row of `action`.
fn newest<'a>(entries: &'a [AuditEntry], action: &str) -> &'a AuditEntry {
    entries
        .iter()
        .find(|e| e.action == action)
        .unwrap_or_else(|| panic!("no {action} row in {entries:#?}"))
}

async fn session(store: &central::Store, user: &str, password: &str) -> String {
    match store.console_login(user, password).await.unwrap() {
        LoginOutcome::Session(s) => s.token,
        other => panic!("{user} could not log in: {other:?}"),
    }
}

/// A viewer cannot publish, an operator cannot make tokens, an admin can; each command done
/// leaves one row with who (the console user of --as, else `cli:` and the shell's user),
/// what and on what, and none for a refused one; a token is never logged.
#[tokio::test]
async fn cli_actions_are_held_to_the_role_of_as_and_each_leaves_an_audit_row() {
    for db in databases().await {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("ops.pem");
        let key = key.to_str().unwrap();
        let url = db.url.as_str();
        ok(&["keys", "generate", "--out", key, "--db", url], "");
        for (user, role) in [
            ("ops-admin", "admin"),
            ("ops-op", "operator"),
            ("ops-view", "viewer"),
        ] {
            ok(
                &["user", "add", user, "--role", role, "--db", url],
                "a long enough password\n",
            );
        }
        let catalog = dir.path().join("catalog.json");
        std::fs::write(&catalog, common::sample_catalog()).unwrap();
        let catalog = catalog.to_str().unwrap();
        let publish = |user: &'static str| {
            [
                "publish", "catalog", catalog, "--key", key, "--db", url, "--as", user,
            ]
        };

        let stderr = refused(&publish("ops-view"));
        assert!(
            stderr.contains("ops-view has the viewer role; bundle.publish needs the admin role"),
            "{}: {stderr}",
            db.name
        );
        let stderr = refused(&publish("ops-op"));
        assert!(stderr.contains("needs the admin role"), "{stderr}");
        let stderr = refused(&publish("nobody"));
        assert!(stderr.contains("no console user"), "{stderr}");
        let store = central::Store::open(url).await.unwrap();
        assert!(
            log(&store)
                .await
                .iter()
                .all(|e| e.action != "bundle.publish"),
            "{}: refused commands leave no row",
            db.name
        );
        ok(&publish("ops-admin"), "");

        let stderr = refused(&[
            "token",
            "create",
            "--hall",
            "dongcheng-main",
            "--db",
            url,
            "--as",
            "ops-op",
        ]);
        assert!(
            stderr.contains("token.create needs the admin role"),
            "{stderr}"
        );
        let token = ok(
            &[
                "token",
                "create",
                "--hall",
                "dongcheng-main",
                "--json",
                "--db",
                url,
            ],
            "",
        );
        let token: serde_json::Value = serde_json::from_str(&token).unwrap();
        let token = token["token"].as_str().unwrap().to_owned();

        let entries = log(&store).await;
        let keys = newest(&entries, "keys.trust");
        assert_eq!(
            (keys.actor.as_str(), keys.via.as_str()),
            ("cli:ops-shell", "cli")
        );
        for user in ["ops-admin", "ops-op", "ops-view"] {
            assert!(
                entries
                    .iter()
                    .any(|e| e.action == "user.add" && e.target == user),
                "{}: user.add {user}",
                db.name
            );
        }
        let published = newest(&entries, "bundle.publish");
        assert_eq!(published.actor, "ops-admin", "{}", db.name);
        assert!(
            published.target.contains("-> hall dongcheng-main"),
            "{published:?}"
        );
        let made = newest(&entries, "token.create");
        assert_eq!(made.actor, "cli:ops-shell");
        assert!(
            entries
                .iter()
                .all(|e| !e.detail.contains(&token) && !e.target.contains(&token)),
            "{}: a token is a secret",
            db.name
        );

        // An operator may do the day-to-day: following up a review that is not there is
        // refused for that, not for the role.
        let stderr = refused(&[
            "ratings",
            "follow-up",
            "999",
            "--note",
            "已回访",
            "--db",
            url,
            "--as",
            "ops-op",
        ]);
        assert!(stderr.contains("no rating 999"), "{stderr}");
        let stderr = refused(&[
            "ratings",
            "follow-up",
            "999",
            "--note",
            "已回访",
            "--db",
            url,
            "--as",
            "ops-view",
        ]);
        assert!(stderr.contains("needs the operator role"), "{stderr}");

        // A password change and a removal end the user's sessions on the spot.
        let op_session = session(&store, "ops-op", "a long enough password").await;
        let view_session = session(&store, "ops-view", "a long enough password").await;
        ok(
            &[
                "user",
                "password",
                "ops-op",
                "--db",
                url,
                "--as",
                "ops-admin",
            ],
            "a brand new password\n",
        );
        assert_eq!(store.console_session(&op_session).await.unwrap(), None);
        assert!(matches!(
            store
                .console_login("ops-op", "a brand new password")
                .await
                .unwrap(),
            LoginOutcome::Session(_)
        ));
        ok(&["user", "remove", "ops-view", "--db", url], "");
        assert_eq!(store.console_session(&view_session).await.unwrap(), None);
        assert_eq!(store.console_user_role("ops-view").await.unwrap(), None);
        ok(
            &["user", "role", "ops-op", "--role", "viewer", "--db", url],
            "",
        );
        // The last admin stays.
        let stderr = refused(&["user", "remove", "ops-admin", "--db", url]);
        assert!(stderr.contains("last admin"), "{stderr}");
        let stderr = refused(&[
            "user",
            "role",
            "ops-admin",
            "--role",
            "operator",
            "--db",
            url,
        ]);
        assert!(stderr.contains("last admin"), "{stderr}");

        let entries = log(&store).await;
        let password = newest(&entries, "user.password");
        assert_eq!(
            (
                password.actor.as_str(),
                password.target.as_str(),
                password.detail.as_str()
            ),
            ("ops-admin", "ops-op", "1 sessions ended"),
            "{}",
            db.name
        );
        let removed = newest(&entries, "user.remove");
        assert_eq!(
            (removed.target.as_str(), removed.actor.as_str()),
            ("ops-view", "cli:ops-shell")
        );
        assert_eq!(newest(&entries, "user.role").detail, "operator -> viewer");
        let listed = ok(&["user", "list", "--json", "--db", url], "");
        let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
        let roles: Vec<_> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|u| {
                (
                    u["name"].as_str().unwrap().to_owned(),
                    u["role"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(
            roles,
            [
                ("ops-admin".to_owned(), "admin".to_owned()),
                ("ops-op".to_owned(), "viewer".to_owned())
            ]
        );
        store.close().await;
    }
}
