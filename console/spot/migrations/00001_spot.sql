-- The console's spot checks (双随机、一公开), in the access database beside
-- its accounts and audit trail, under the console's own migration history
-- (table console_goose_db_version). Portable types only, as the access
-- schema: TEXT, BIGINT (Unix nanoseconds), BOOLEAN.

-- +goose Up
CREATE TABLE console_spot_inspectors (
    county     TEXT NOT NULL,
    id         TEXT NOT NULL,               -- published ID (执法证号)
    name       TEXT NOT NULL,
    active     BOOLEAN NOT NULL DEFAULT TRUE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (county, id)
);

CREATE TABLE console_spot_conflicts (
    county    TEXT NOT NULL,
    inspector TEXT NOT NULL,
    facility  TEXT NOT NULL,
    PRIMARY KEY (county, inspector, facility)
);

CREATE TABLE console_spot_draws (
    id           TEXT PRIMARY KEY,
    county       TEXT NOT NULL,
    period       TEXT NOT NULL DEFAULT '',
    drawn_at     BIGINT NOT NULL,
    drawn_by     TEXT NOT NULL,             -- actor
    seed         TEXT NOT NULL,
    document     TEXT NOT NULL,             -- the published JSON, exactly as drawn
    published_at BIGINT,
    published_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX console_spot_draws_county ON console_spot_draws (county, drawn_at);

CREATE TABLE console_spot_results (
    draw_id      TEXT NOT NULL REFERENCES console_spot_draws (id),
    facility     TEXT NOT NULL,
    inspected_on TEXT NOT NULL,             -- YYYY-MM-DD, the facility's day
    outcome      TEXT NOT NULL,             -- pass, rectify, fail, closed
    findings     TEXT NOT NULL DEFAULT '',
    entered_by   TEXT NOT NULL,
    entered_at   BIGINT NOT NULL,
    PRIMARY KEY (draw_id, facility)
);
CREATE INDEX console_spot_results_facility ON console_spot_results (facility, inspected_on);

-- +goose Down
DROP TABLE console_spot_results;
DROP TABLE console_spot_draws;
DROP TABLE console_spot_conflicts;
DROP TABLE console_spot_inspectors;
