-- Telegram chats linked to notification channels by `/subscribe CODE`
-- (server/src/alerting/bot.rs). Codes are one-time and stored hashed;
-- a link remembers the user who made the code, whose role decides what
-- the chat may do (`/silence` needs editor or above).
CREATE TABLE telegram_codes (
    code_hash  TEXT    PRIMARY KEY,
    channel    TEXT    NOT NULL,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    used_ms    INTEGER
);

CREATE TABLE telegram_links (
    chat_id    INTEGER NOT NULL,
    channel    TEXT    NOT NULL,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (chat_id, channel)
);

-- Settings changed in the UI (the bot token, the bot's update offset).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
