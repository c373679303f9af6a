//! SQLite store: schema, migrations, outbox, encryption of personal data at rest.
