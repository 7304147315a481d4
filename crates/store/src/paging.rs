//! Filtered, paged listings (the console's CDR search, the case list): a
//! WHERE clause built from optional filters with numbered placeholders, and
//! one page of rows with the total count, on SQLite and PostgreSQL alike.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{Store, StoreError};

/// One bound value of a filter.
enum Arg {
    Int(i64),
    Text(String),
}

/// The conditions of a listing, ANDed; values are bound, never spliced.
#[derive(Default)]
pub(crate) struct Filter {
    cond: Vec<String>,
    args: Vec<Arg>,
}

impl Filter {
    /// A condition with one text value: `$?` in `sql` is its placeholder.
    pub(crate) fn text(&mut self, sql: &str, value: &str) {
        self.bound(sql, Arg::Text(value.to_string()));
    }

    /// A condition with one integer value: `$?` in `sql` is its placeholder.
    pub(crate) fn int(&mut self, sql: &str, value: i64) {
        self.bound(sql, Arg::Int(value));
    }

    /// `column = value` for each column whose value is set.
    pub(crate) fn text_eq<'a>(
        &mut self,
        columns: impl IntoIterator<Item = (&'a str, &'a Option<String>)>,
    ) {
        for (col, v) in columns {
            if let Some(v) = v {
                self.text(&format!("{col} = $?"), v);
            }
        }
    }

    /// A condition without a value.
    pub(crate) fn fixed(&mut self, sql: &str) {
        self.cond.push(sql.to_string());
    }

    fn bound(&mut self, sql: &str, a: Arg) {
        self.args.push(a);
        self.cond
            .push(sql.replace("$?", &format!("${}", self.args.len())));
    }

    fn where_sql(&self) -> String {
        if self.cond.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.cond.join(" AND "))
        }
    }

    fn bind<'q>(
        &self,
        mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
        for a in &self.args {
            q = match a {
                Arg::Int(i) => q.bind(*i),
                Arg::Text(t) => q.bind(t.clone()),
            };
        }
        q
    }
}

/// Which rows of a listing, and in what order.
pub(crate) struct PageQuery<'a> {
    /// The table.
    pub table: &'a str,
    /// The columns selected.
    pub columns: &'a str,
    /// The ORDER BY clause, newest first and unique (so pages do not overlap).
    pub order_by: &'a str,
    /// Rows per page, clamped to 1..=`max_limit`.
    pub limit: i64,
    /// The largest page.
    pub max_limit: i64,
    /// Rows skipped (negative counts as 0).
    pub offset: i64,
}

impl Store {
    /// The total count of the rows matching `filter`, and one page of them.
    pub(crate) async fn page(
        &self,
        q: &PageQuery<'_>,
        filter: &Filter,
    ) -> Result<(i64, Vec<AnyRow>), StoreError> {
        let cond = filter.where_sql();
        let count_sql = format!("SELECT COUNT(*) AS n FROM {}{cond}", q.table);
        let total: i64 = filter
            .bind(sqlx::query(sqlx::AssertSqlSafe(count_sql)))
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
        let n = filter.args.len();
        let sql = format!(
            "SELECT {} FROM {}{cond} ORDER BY {} LIMIT ${} OFFSET ${}",
            q.columns,
            q.table,
            q.order_by,
            n + 1,
            n + 2
        );
        let rows = filter
            .bind(sqlx::query(sqlx::AssertSqlSafe(sql)))
            .bind(q.limit.clamp(1, q.max_limit))
            .bind(q.offset.max(0))
            .fetch_all(&self.pool)
            .await?;
        Ok((total, rows))
    }
}
