-- Lockout (contract §5, auth): consecutive failed logins per user, and how
-- long the account stays locked once they reach the limit. A login takes
-- its try (failed_logins + 1) before the password is verified, so parallel
-- guesses cannot outrun the limit; a success sets it back to 0.
ALTER TABLE users
    ADD COLUMN failed_logins integer NOT NULL DEFAULT 0,
    ADD COLUMN locked_until  timestamptz;
