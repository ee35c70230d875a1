-- Enrolment tokens may expire and may be limited to a number of uses.
ALTER TABLE enroll_tokens ADD COLUMN expires_ms INTEGER;
ALTER TABLE enroll_tokens ADD COLUMN max_uses INTEGER;
ALTER TABLE enroll_tokens ADD COLUMN uses INTEGER NOT NULL DEFAULT 0;
