-- The access database: accounts, API tokens, sessions, pending OpenID
-- Connect logins, failed-attempt counters and the audit trail. One schema
-- for PostgreSQL and SQLite: portable types only (TEXT, BIGINT, BOOLEAN),
-- times as BIGINT Unix nanoseconds, hashes as lower-case hex, IDs made by
-- the application (no sequences).

-- +goose Up
CREATE TABLE accounts (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    password_hash TEXT,                         -- argon2id PHC string; NULL: no password login
    oidc_issuer   TEXT,
    oidc_subject  TEXT,
    role          TEXT NOT NULL,
    region        TEXT NOT NULL DEFAULT '',     -- region code; '' for operators and the country
    facilities    TEXT NOT NULL DEFAULT '',     -- operators: facility IDs, comma-separated
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX accounts_oidc ON accounts (oidc_issuer, oidc_subject);

CREATE TABLE tokens (
    id           TEXT PRIMARY KEY,              -- public part of the token
    secret_hash  TEXT NOT NULL,                 -- SHA-256 of the secret part
    name         TEXT NOT NULL,
    role         TEXT NOT NULL,
    region       TEXT NOT NULL DEFAULT '',
    facilities   TEXT NOT NULL DEFAULT '',
    actions      TEXT NOT NULL DEFAULT '',      -- comma-separated; '' = the role's
    created_by   TEXT NOT NULL,                 -- actor
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    revoked_at   BIGINT,
    last_used_at BIGINT
);

CREATE TABLE sessions (
    id_hash      TEXT PRIMARY KEY,              -- SHA-256 of the cookie value
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    method       TEXT NOT NULL,                 -- password, oidc
    source       TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL                -- absolute expiry
);
CREATE INDEX sessions_account ON sessions (account_id);

CREATE TABLE oidc_logins (
    state_hash TEXT PRIMARY KEY,
    nonce      TEXT NOT NULL,
    verifier   TEXT NOT NULL,
    return_to  TEXT NOT NULL DEFAULT '',
    expires_at BIGINT NOT NULL
);

CREATE TABLE attempt_limits (
    key          TEXT PRIMARY KEY,              -- "login:account:<name>", "login:source:<ip>"
    failures     BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    locked_until BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE audit_records (
    chain      TEXT NOT NULL,
    seq        BIGINT NOT NULL,
    at         BIGINT NOT NULL,
    actor      TEXT NOT NULL,
    actor_name TEXT NOT NULL DEFAULT '',
    actor_role TEXT NOT NULL DEFAULT '',
    action     TEXT NOT NULL,
    facility   TEXT NOT NULL DEFAULT '',
    region     TEXT NOT NULL DEFAULT '',
    subject    TEXT NOT NULL DEFAULT '',
    detail     TEXT NOT NULL DEFAULT '{}',
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL,
    PRIMARY KEY (chain, seq)
);
CREATE INDEX audit_records_facility ON audit_records (facility, at);

CREATE TABLE audit_anchors (
    chain     TEXT NOT NULL,
    seq       BIGINT NOT NULL,
    hash      TEXT NOT NULL,
    at        BIGINT NOT NULL,
    key_id    TEXT NOT NULL,
    signature TEXT NOT NULL,
    PRIMARY KEY (chain, seq)
);

CREATE TABLE audit_quarantine (
    chain       TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    record_hash TEXT NOT NULL DEFAULT '',
    reason      TEXT NOT NULL,
    at          BIGINT NOT NULL,
    PRIMARY KEY (chain, seq, kind)
);

-- +goose Down
DROP TABLE audit_quarantine;
DROP TABLE audit_anchors;
DROP TABLE audit_records;
DROP TABLE attempt_limits;
DROP TABLE oidc_logins;
DROP TABLE sessions;
DROP TABLE tokens;
DROP TABLE accounts;
