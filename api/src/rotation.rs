//! Key statements: how a kiosk moves from one ops key to the next without a site visit.
//!
//! Ops has two keys with separate jobs: the **catalog** key signs catalog and configuration
//! bundles, the **release** key signs software releases. A kiosk is provisioned with both
//! (they may start as one key). Either can change by a statement that central serves in the
//! desired state and every kiosk checks for itself:
//!
//! - **rotate**: signed by the role's current key, naming the next one. A planned change.
//! - **revoke**: signed by the *other* role's current key, naming the role's key that must
//!   never be trusted again and its replacement. For a key that leaked: whoever holds the
//!   leaked key can sign a rotation to a key of their own, but the revocation undoes it, and
//!   every key reached from the revoked one is distrusted with it.
//!
//! A kiosk walks the statements in serial order from the keys it trusts ([`follow`]) and
//! skips what was not signed by a key it trusts then, so a statement it has already passed,
//! or one made up by someone without the keys, changes nothing. Losing both keys at once is
//! the one case left for a site visit (`kioskctl provision` again).

use std::collections::BTreeSet;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::keys::{key_id, public_key_from_base64};

/// Which of ops' keys a statement changes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum KeyRole {
    /// Signs catalog and configuration bundles.
    Catalog,
    /// Signs software releases.
    Release,
}

impl KeyRole {
    /// The other role: the one whose key may revoke this role's key.
    pub fn other(self) -> KeyRole {
        match self {
            KeyRole::Catalog => KeyRole::Release,
            KeyRole::Release => KeyRole::Catalog,
        }
    }

    /// The role's name, as the command line and the database write it.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyRole::Catalog => "catalog",
            KeyRole::Release => "release",
        }
    }
}

impl std::str::FromStr for KeyRole {
    type Err = String;
    fn from_str(s: &str) -> Result<KeyRole, String> {
        match s {
            "catalog" => Ok(KeyRole::Catalog),
            "release" => Ok(KeyRole::Release),
            other => Err(format!("{other:?} is not a key role (catalog or release)")),
        }
    }
}

/// What a statement does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyAction {
    /// A planned move to the next key, signed by the current key of the same role.
    Rotate,
    /// The key `previous_public_key` is distrusted for good, signed by the other role's key.
    Revoke,
}

/// The statement itself, as signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyStatement {
    /// Position in central's list, from 1; kiosks apply statements in this order.
    pub serial: u64,
    /// Whose key changes.
    pub role: KeyRole,
    /// Rotate or revoke.
    pub action: KeyAction,
    /// The role's key being replaced (standard base64): for a rotation the signer, for a
    /// revocation the leaked key. Carried whole so anyone can check a rotation's signature.
    pub previous_public_key: String,
    /// The role's next public key (standard base64).
    pub next_public_key: String,
    /// Why, in ops' words (shown to technicians, logged by kiosks).
    pub reason: String,
    /// When ops signed it.
    pub issued_at: DateTime<Utc>,
}

/// A statement with its signature: what central stores and serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SignedKeyStatement {
    /// The [`KeyStatement`] as JSON: the exact text that was signed.
    pub statement: String,
    /// Standard base64 ed25519 signature over [`statement_signing_string`].
    pub signature: String,
    /// Which key signed.
    pub key_id: String,
}

/// The bytes signed for a statement; the prefix keeps a statement's signature from ever
/// passing as a bundle's or a release's.
pub fn statement_signing_string(statement: &str) -> String {
    format!("hall-kiosk key statement v1\n{statement}")
}

/// Signs `statement` with `signer` (the role's key for a rotation, the other role's for a
/// revocation).
pub fn sign_statement(signer: &SigningKey, statement: &KeyStatement) -> SignedKeyStatement {
    // Serializing a struct of strings, numbers and enums cannot fail.
    let text = serde_json::to_string(statement).unwrap_or_default();
    let signature = signer.sign(statement_signing_string(&text).as_bytes());
    SignedKeyStatement {
        statement: text,
        signature: B64.encode(signature.to_bytes()),
        key_id: key_id(&signer.verifying_key()),
    }
}

impl SignedKeyStatement {
    /// The statement, read without checking the signature (for listing, not for trusting).
    pub fn read(&self) -> Result<KeyStatement, String> {
        serde_json::from_str(&self.statement).map_err(|e| format!("not a key statement: {e}"))
    }

    fn verifies_under(&self, key: &VerifyingKey) -> bool {
        if self.key_id != key_id(key) {
            return false;
        }
        let Ok(bytes) = B64.decode(&self.signature) else {
            return false;
        };
        let Ok(signature) = Signature::from_slice(&bytes) else {
            return false;
        };
        key.verify(
            statement_signing_string(&self.statement).as_bytes(),
            &signature,
        )
        .is_ok()
    }
}

/// The keys a kiosk trusts, and the ones it will never trust again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyAnchors {
    /// Verifies catalog and configuration bundles.
    pub catalog: VerifyingKey,
    /// Verifies releases.
    pub release: VerifyingKey,
    /// Key ids revoked by a statement this kiosk followed.
    pub revoked: BTreeSet<String>,
}

impl KeyAnchors {
    /// Anchors with one key for both roles, as a kiosk enrolled before the keys were split.
    pub fn single(key: VerifyingKey) -> KeyAnchors {
        KeyAnchors {
            catalog: key,
            release: key,
            revoked: BTreeSet::new(),
        }
    }

    /// The current key of `role`.
    pub fn key(&self, role: KeyRole) -> &VerifyingKey {
        match role {
            KeyRole::Catalog => &self.catalog,
            KeyRole::Release => &self.release,
        }
    }

    fn set(&mut self, role: KeyRole, key: VerifyingKey) {
        match role {
            KeyRole::Catalog => self.catalog = key,
            KeyRole::Release => self.release = key,
        }
    }
}

/// What walking the statements did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Followed {
    /// Statements applied, in order: (serial, role, action, new key id, reason).
    pub applied: Vec<AppliedStatement>,
    /// Statements that claimed to come from a key this kiosk trusted but were refused, with
    /// why (a forged signature, a revoked signer, a revoked next key).
    pub refused: Vec<(u64, String)>,
}

/// One statement a kiosk followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedStatement {
    /// Its serial.
    pub serial: u64,
    /// Whose key changed.
    pub role: KeyRole,
    /// Rotate or revoke.
    pub action: KeyAction,
    /// Key id of the role's key now.
    pub key_id: String,
    /// Ops' reason.
    pub reason: String,
}

/// Walks `statements` in serial order from `anchors`, applying each one the keys trusted at
/// that point allow, and returns the anchors reached. Statements signed by a key not trusted
/// at that point are passed over: they are either behind this kiosk already or not ops'.
pub fn follow(anchors: &KeyAnchors, statements: &[SignedKeyStatement]) -> (KeyAnchors, Followed) {
    let mut read: Vec<(KeyStatement, &SignedKeyStatement)> = statements
        .iter()
        .filter_map(|s| s.read().ok().map(|st| (st, s)))
        .collect();
    read.sort_by_key(|(st, _)| st.serial);
    let mut now = anchors.clone();
    let mut done = Followed::default();
    for (i, (st, signed)) in read.iter().enumerate() {
        let (Ok(previous), Ok(next)) = (
            public_key_from_base64(&st.previous_public_key),
            public_key_from_base64(&st.next_public_key),
        ) else {
            continue;
        };
        let (previous_id, next_id) = (key_id(&previous), key_id(&next));
        match st.action {
            KeyAction::Rotate => {
                let current = *now.key(st.role);
                if previous != current || signed.key_id != key_id(&current) {
                    continue;
                }
                if !signed.verifies_under(&current) {
                    done.refused
                        .push((st.serial, "signature does not verify".into()));
                    continue;
                }
                if now.revoked.contains(&next_id) {
                    done.refused
                        .push((st.serial, format!("names key {next_id}, which was revoked")));
                    continue;
                }
                now.set(st.role, next);
            }
            KeyAction::Revoke => {
                let signer = *now.key(st.role.other());
                if signed.key_id != key_id(&signer) {
                    continue;
                }
                if !signed.verifies_under(&signer) {
                    done.refused
                        .push((st.serial, "signature does not verify".into()));
                    continue;
                }
                if signed.key_id == previous_id {
                    done.refused.push((
                        st.serial,
                        "a key cannot revoke itself: the other role's key must".into(),
                    ));
                    continue;
                }
                if now.revoked.contains(&next_id) || next_id == previous_id {
                    done.refused
                        .push((st.serial, format!("names key {next_id}, which is revoked")));
                    continue;
                }
                // The leaked key and every key reached from it by rotation before this
                // statement: a holder of the leaked key may have rotated to a key of theirs.
                let tainted = descendants(&previous_id, st.role, &read[..i]);
                let current_id = key_id(now.key(st.role));
                if tainted.contains(&current_id) {
                    now.set(st.role, next);
                }
                now.revoked.extend(tainted);
            }
        }
        done.applied.push(AppliedStatement {
            serial: st.serial,
            role: st.role,
            action: st.action,
            key_id: key_id(now.key(st.role)),
            reason: st.reason.clone(),
        });
    }
    (now, done)
}

/// `from` and every key of `role` reached from it by validly signed rotations in `earlier`.
fn descendants(
    from: &str,
    role: KeyRole,
    earlier: &[(KeyStatement, &SignedKeyStatement)],
) -> BTreeSet<String> {
    let mut reached = BTreeSet::from([from.to_owned()]);
    for (st, signed) in earlier {
        if st.role != role || st.action != KeyAction::Rotate || !reached.contains(&signed.key_id) {
            continue;
        }
        let (Ok(signer), Ok(next)) = (
            public_key_from_base64(&st.previous_public_key),
            public_key_from_base64(&st.next_public_key),
        ) else {
            continue;
        };
        if signed.verifies_under(&signer) {
            reached.insert(key_id(&next));
        }
    }
    reached
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{generate, public_key_to_base64};

    fn statement(
        serial: u64,
        role: KeyRole,
        action: KeyAction,
        previous: &VerifyingKey,
        next: &VerifyingKey,
    ) -> KeyStatement {
        KeyStatement {
            serial,
            role,
            action,
            previous_public_key: public_key_to_base64(previous),
            next_public_key: public_key_to_base64(next),
            reason: "test".into(),
            issued_at: DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default(),
        }
    }

    #[test]
    fn a_rotation_signed_by_the_current_key_moves_the_kiosk_on() {
        let (k0, k1, k2) = (generate(), generate(), generate());
        let anchors = KeyAnchors::single(k0.verifying_key());
        let list = vec![
            sign_statement(
                &k0,
                &statement(
                    1,
                    KeyRole::Release,
                    KeyAction::Rotate,
                    &k0.verifying_key(),
                    &k1.verifying_key(),
                ),
            ),
            sign_statement(
                &k1,
                &statement(
                    2,
                    KeyRole::Release,
                    KeyAction::Rotate,
                    &k1.verifying_key(),
                    &k2.verifying_key(),
                ),
            ),
        ];
        let (now, done) = follow(&anchors, &list);
        assert_eq!(now.release, k2.verifying_key());
        assert_eq!(now.catalog, k0.verifying_key(), "the other role stays");
        assert_eq!(done.applied.len(), 2);
        // Walking again from where it ended changes nothing: the statements are behind it.
        let (again, done) = follow(&now, &list);
        assert_eq!(again, now);
        assert!(done.applied.is_empty() && done.refused.is_empty());
    }

    #[test]
    fn a_rotation_not_signed_by_the_current_key_is_ignored() {
        let (k0, intruder, k1) = (generate(), generate(), generate());
        let anchors = KeyAnchors::single(k0.verifying_key());
        // Claims k0 as previous but is signed by someone else.
        let mut forged = sign_statement(
            &intruder,
            &statement(
                1,
                KeyRole::Catalog,
                KeyAction::Rotate,
                &k0.verifying_key(),
                &k1.verifying_key(),
            ),
        );
        let (now, _) = follow(&anchors, std::slice::from_ref(&forged));
        assert_eq!(now, anchors);
        // Claims k0's id too: the signature gives it away.
        forged.key_id = key_id(&k0.verifying_key());
        let (now, done) = follow(&anchors, &[forged]);
        assert_eq!(now, anchors);
        assert_eq!(done.refused.len(), 1);
    }

    #[test]
    fn a_revocation_by_the_other_key_undoes_what_the_leaked_key_signed() {
        let (cat0, rel, cat_thief, cat1) = (generate(), generate(), generate(), generate());
        let anchors = KeyAnchors {
            catalog: cat0.verifying_key(),
            release: rel.verifying_key(),
            revoked: BTreeSet::new(),
        };
        let list = vec![
            // The thief of cat0 moves kiosks to a key of theirs...
            sign_statement(
                &cat0,
                &statement(
                    1,
                    KeyRole::Catalog,
                    KeyAction::Rotate,
                    &cat0.verifying_key(),
                    &cat_thief.verifying_key(),
                ),
            ),
            // ...ops revokes cat0 with the release key...
            sign_statement(
                &rel,
                &statement(
                    2,
                    KeyRole::Catalog,
                    KeyAction::Revoke,
                    &cat0.verifying_key(),
                    &cat1.verifying_key(),
                ),
            ),
            // ...and the thief's key can sign nothing more.
            sign_statement(
                &cat_thief,
                &statement(
                    3,
                    KeyRole::Catalog,
                    KeyAction::Rotate,
                    &cat_thief.verifying_key(),
                    &generate().verifying_key(),
                ),
            ),
        ];
        let (now, done) = follow(&anchors, &list);
        assert_eq!(now.catalog, cat1.verifying_key());
        assert!(now.revoked.contains(&key_id(&cat0.verifying_key())));
        assert!(now.revoked.contains(&key_id(&cat_thief.verifying_key())));
        assert_eq!(done.applied.len(), 2);
        // A kiosk that had already followed the thief's rotation is brought back too.
        let misled = KeyAnchors {
            catalog: cat_thief.verifying_key(),
            ..anchors.clone()
        };
        let (now, _) = follow(&misled, &list);
        assert_eq!(now.catalog, cat1.verifying_key());
    }

    #[test]
    fn a_key_cannot_revoke_itself_and_a_revoked_key_never_returns() {
        let (k, next) = (generate(), generate());
        let anchors = KeyAnchors::single(k.verifying_key());
        // Both roles on one key: a revocation would be signed by the leaked key itself.
        let self_revoke = sign_statement(
            &k,
            &statement(
                1,
                KeyRole::Catalog,
                KeyAction::Revoke,
                &k.verifying_key(),
                &next.verifying_key(),
            ),
        );
        let (now, done) = follow(&anchors, &[self_revoke]);
        assert_eq!(now, anchors);
        assert_eq!(done.refused.len(), 1);

        let (cat, rel, cat1) = (generate(), generate(), generate());
        let anchors = KeyAnchors {
            catalog: cat.verifying_key(),
            release: rel.verifying_key(),
            revoked: BTreeSet::new(),
        };
        let list = vec![
            sign_statement(
                &rel,
                &statement(
                    1,
                    KeyRole::Catalog,
                    KeyAction::Revoke,
                    &cat.verifying_key(),
                    &cat1.verifying_key(),
                ),
            ),
            // Rotating back to the revoked key is refused.
            sign_statement(
                &cat1,
                &statement(
                    2,
                    KeyRole::Catalog,
                    KeyAction::Rotate,
                    &cat1.verifying_key(),
                    &cat.verifying_key(),
                ),
            ),
        ];
        let (now, done) = follow(&anchors, &list);
        assert_eq!(now.catalog, cat1.verifying_key());
        assert_eq!(done.refused.len(), 1);
    }

    #[test]
    fn garbage_statements_change_nothing() {
        let k = generate();
        let anchors = KeyAnchors::single(k.verifying_key());
        let junk = vec![
            SignedKeyStatement {
                statement: "{".into(),
                signature: "!!".into(),
                key_id: key_id(&k.verifying_key()),
            },
            SignedKeyStatement {
                statement: serde_json::to_string(&statement(
                    1,
                    KeyRole::Catalog,
                    KeyAction::Rotate,
                    &k.verifying_key(),
                    &generate().verifying_key(),
                ))
                .unwrap_or_default(),
                signature: "AAAA".into(),
                key_id: key_id(&k.verifying_key()),
            },
        ];
        let (now, _) = follow(&anchors, &junk);
        assert_eq!(now, anchors);
    }
}
