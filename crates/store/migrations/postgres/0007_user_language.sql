-- The language each console user chose (issue 20): zh-CN or en. A user with
-- no row gets the browser's language.
CREATE TABLE user_language (
    name        TEXT PRIMARY KEY,
    language    TEXT NOT NULL,
    updated_ms  BIGINT NOT NULL
);
