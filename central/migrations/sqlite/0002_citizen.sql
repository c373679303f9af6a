-- Citizen journeys (queue numbers, tickets, applications, ratings, help, appointments),
-- SQLite dialect. Keep in step with ../postgres/0002_citizen.sql: the same tables, columns and
-- constraints; only types differ. Times are unix milliseconds, business dates 'YYYY-MM-DD'.

-- The next number a lease of (hall, category, date) would start at. Bumping it in place is
-- what keeps concurrent leases from overlapping on both databases: the UPDATE takes the
-- row's lock, so a second lease waits and then sees the bumped value.
CREATE TABLE lease_counters (
    hall_id TEXT NOT NULL REFERENCES halls (id),
    category TEXT NOT NULL,
    business_date TEXT NOT NULL,
    next_number INTEGER NOT NULL,
    PRIMARY KEY (hall_id, category, business_date)
);

-- Every block handed out, with its owner kiosk (§6: central knows every block's owner).
CREATE TABLE number_leases (
    lease_id TEXT PRIMARY KEY NOT NULL,
    hall_id TEXT NOT NULL REFERENCES halls (id),
    kiosk_id TEXT NOT NULL REFERENCES kiosks (id),
    category TEXT NOT NULL,
    business_date TEXT NOT NULL,
    first_number INTEGER NOT NULL,
    last_number INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (hall_id, category, business_date, first_number)
);

-- Projection of ticket_issued / ticket_voided. A number is one ticket per hall, category and
-- day: the first event for it wins, later ones are ignored (and logged).
CREATE TABLE tickets (
    hall_id TEXT NOT NULL REFERENCES halls (id),
    business_date TEXT NOT NULL,
    category TEXT NOT NULL,
    number INTEGER NOT NULL,
    ticket_no TEXT NOT NULL,
    kiosk_id TEXT NOT NULL REFERENCES kiosks (id),
    priority TEXT NOT NULL,
    source TEXT NOT NULL,
    holder_hash TEXT,
    appointment_id TEXT,
    issued_at INTEGER NOT NULL,
    voided_at INTEGER,
    void_reason TEXT,
    called_at INTEGER,
    PRIMARY KEY (hall_id, business_date, category, number)
);
CREATE INDEX tickets_waiting ON tickets (hall_id, business_date, category, called_at, voided_at);

-- Projection of application_submitted; status is the last timeline entry's.
CREATE TABLE applications (
    application_no TEXT PRIMARY KEY NOT NULL,
    hall_id TEXT NOT NULL REFERENCES halls (id),
    kiosk_id TEXT NOT NULL REFERENCES kiosks (id),
    matter_code TEXT NOT NULL,
    holder_hash TEXT NOT NULL,
    holder_name_masked TEXT NOT NULL,
    form TEXT NOT NULL,
    materials TEXT NOT NULL,
    status TEXT NOT NULL,
    submitted_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX applications_by_holder ON applications (hall_id, holder_hash);

CREATE TABLE application_timeline (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    application_no TEXT NOT NULL REFERENCES applications (application_no),
    set_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    note_zh TEXT,
    note_en TEXT
);
CREATE INDEX timeline_by_application ON application_timeline (application_no, id);

-- Projection of rating_given: one rating per hall and subject, the first one kept.
CREATE TABLE ratings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    hall_id TEXT NOT NULL REFERENCES halls (id),
    subject TEXT NOT NULL,
    kiosk_id TEXT NOT NULL REFERENCES kiosks (id),
    level INTEGER NOT NULL,
    reasons TEXT NOT NULL,
    note TEXT,
    matter_code TEXT,
    given_at INTEGER NOT NULL,
    followed_up_at INTEGER,
    follow_up_note TEXT,
    UNIQUE (hall_id, subject)
);

-- Projection of help_requested; open until hall staff acknowledge it.
CREATE TABLE help_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    hall_id TEXT NOT NULL REFERENCES halls (id),
    kiosk_id TEXT NOT NULL REFERENCES kiosks (id),
    event_id TEXT NOT NULL,
    page TEXT NOT NULL,
    language TEXT NOT NULL,
    requested_at INTEGER NOT NULL,
    acknowledged_at INTEGER,
    UNIQUE (kiosk_id, event_id)
);
CREATE INDEX help_open ON help_requests (acknowledged_at);

-- Imported from the booking system (`central appointments import`).
CREATE TABLE appointments (
    hall_id TEXT NOT NULL REFERENCES halls (id),
    appointment_id TEXT NOT NULL,
    business_date TEXT NOT NULL,
    holder_hash TEXT NOT NULL,
    holder_name_masked TEXT NOT NULL,
    matter_code TEXT NOT NULL,
    category TEXT NOT NULL,
    slot_start TEXT NOT NULL,
    slot_end TEXT NOT NULL,
    slot_start_ms INTEGER NOT NULL,
    imported_at INTEGER NOT NULL,
    PRIMARY KEY (hall_id, appointment_id)
);
CREATE INDEX appointments_by_date ON appointments (hall_id, business_date, slot_start_ms);
