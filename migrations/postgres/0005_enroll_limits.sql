-- Enrolment tokens may expire and may be limited to a number of uses.
ALTER TABLE enroll_tokens ADD COLUMN expires_ms bigint;
ALTER TABLE enroll_tokens ADD COLUMN max_uses bigint;
ALTER TABLE enroll_tokens ADD COLUMN uses bigint NOT NULL DEFAULT 0;
