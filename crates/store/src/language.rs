//! The console language each user chose (issue 20).

use sqlx::Row;

use crate::{Store, StoreError};

impl Store {
    /// The language `user` chose in the console, if they chose one.
    pub async fn user_language(&self, user: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT language FROM user_language WHERE name = $1")
            .bind(user.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get("language")?),
            None => None,
        })
    }

    /// Stores the language `user` chose (replacing an earlier choice). The
    /// caller checks the value (the console knows which languages it has).
    pub async fn set_user_language(
        &self,
        user: &str,
        language: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO user_language (name, language, updated_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET language = excluded.language, updated_ms = excluded.updated_ms",
        )
        .bind(user.to_string())
        .bind(language.to_string())
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
