//! SQL written once for both backends. Statements use `?` placeholders
//! (numbered `$1…` for PostgreSQL here) and plain types; rows decode into
//! tuples through sqlx's `FromRow`. Everything that is not about samples,
//! rollups or maintenance is written against [`Db`], as ordinary generic
//! code: one implementation of each domain trait for every store that has
//! a `Db` (see [`HasDb`]).

use super::Result;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{FromRow, PgPool, SqlitePool};

/// The pools of one store.
#[derive(Clone, Debug)]
pub enum Db {
    /// One writer connection (SQLite allows one writer anyway) and a
    /// read pool.
    Sqlite {
        writer: SqlitePool,
        reader: SqlitePool,
    },
    Postgres(PgPool),
}

/// A store whose shared tables are reached through a [`Db`].
pub trait HasDb: Send + Sync {
    fn db(&self) -> &Db;
}

/// A row both backends can decode (tuples of plain types).
pub trait AnyRow:
    for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}

impl<T> AnyRow for T where
    T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}

/// A value to bind; `None` binds NULL.
#[derive(Debug, Clone)]
pub enum Arg {
    I64(Option<i64>),
    F64(Option<f64>),
    Str(Option<String>),
    Bool(Option<bool>),
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::I64(Some(v))
    }
}
impl From<&i64> for Arg {
    fn from(v: &i64) -> Self {
        Arg::I64(Some(*v))
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        Arg::I64(v)
    }
}
impl From<f64> for Arg {
    fn from(v: f64) -> Self {
        Arg::F64(Some(v))
    }
}
impl From<Option<f64>> for Arg {
    fn from(v: Option<f64>) -> Self {
        Arg::F64(v)
    }
}
impl From<bool> for Arg {
    fn from(v: bool) -> Self {
        Arg::Bool(Some(v))
    }
}
impl From<Option<bool>> for Arg {
    fn from(v: Option<bool>) -> Self {
        Arg::Bool(v)
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Str(Some(v.to_string()))
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Str(Some(v))
    }
}
impl From<&String> for Arg {
    fn from(v: &String) -> Self {
        Arg::Str(Some(v.clone()))
    }
}
impl From<Option<&str>> for Arg {
    fn from(v: Option<&str>) -> Self {
        Arg::Str(v.map(str::to_string))
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Arg::Str(v)
    }
}
impl From<&Option<String>> for Arg {
    fn from(v: &Option<String>) -> Self {
        Arg::Str(v.clone())
    }
}

/// `?` → `$1, $2, …`, outside quoted strings.
pub fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let (mut n, mut quoted) = (0, false);
    for c in sql.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            }
            _ => out.push(c),
        }
    }
    out
}

fn bind_sqlite<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    args: &[Arg],
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
    for a in args {
        q = match a.clone() {
            Arg::I64(v) => q.bind(v),
            Arg::F64(v) => q.bind(v),
            Arg::Str(v) => q.bind(v),
            Arg::Bool(v) => q.bind(v),
        };
    }
    q
}

fn bind_pg<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    args: &[Arg],
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    for a in args {
        q = match a.clone() {
            Arg::I64(v) => q.bind(v),
            Arg::F64(v) => q.bind(v),
            Arg::Str(v) => q.bind(v),
            Arg::Bool(v) => q.bind(v),
        };
    }
    q
}

/// Where a statement runs.
enum Target<'a> {
    Db(&'a Db, bool),
    Tx(&'a mut Tx),
}

/// A statement being built: `db.sql("… ? …").bind(x).fetch_all().await`.
pub struct Stmt<'a> {
    target: Target<'a>,
    sql: &'a str,
    args: Vec<Arg>,
}

impl Db {
    /// A statement; reads run on the read pool, `execute` on the writer.
    pub fn sql<'a>(&'a self, sql: &'a str) -> Stmt<'a> {
        Stmt {
            target: Target::Db(self, false),
            sql,
            args: Vec::new(),
        }
    }

    /// A parameter stored in a JSON column (PostgreSQL's are `jsonb`).
    pub fn json_param(&self) -> &'static str {
        match self {
            Db::Sqlite { .. } => "?",
            Db::Postgres(_) => "CAST(? AS jsonb)",
        }
    }

    /// A JSON column read back as text.
    pub fn json_text(&self, col: &str) -> String {
        match self {
            Db::Sqlite { .. } => col.to_string(),
            Db::Postgres(_) => format!("{col}::text"),
        }
    }

    /// Appended to a subquery that claims rows, so concurrent claimers
    /// (several servers) skip each other's instead of waiting. SQLite has
    /// one writer and needs none.
    pub fn skip_locked(&self) -> &'static str {
        match self {
            Db::Sqlite { .. } => "",
            Db::Postgres(_) => " FOR UPDATE SKIP LOCKED",
        }
    }

    pub async fn begin(&self) -> Result<Tx> {
        Ok(match self {
            Db::Sqlite { writer, .. } => Tx::Sqlite(writer.begin().await?),
            Db::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }
}

/// A transaction on the writer.
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl Tx {
    pub fn sql<'a>(&'a mut self, sql: &'a str) -> Stmt<'a> {
        Stmt {
            target: Target::Tx(self),
            sql,
            args: Vec::new(),
        }
    }

    pub async fn commit(self) -> Result<()> {
        match self {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }
}

impl<'a> Stmt<'a> {
    pub fn bind(mut self, v: impl Into<Arg>) -> Self {
        self.args.push(v.into());
        self
    }

    /// Runs a read on the writer: statements with `RETURNING`, and reads
    /// that must see what was just written.
    pub fn on_writer(mut self) -> Self {
        if let Target::Db(db, _) = self.target {
            self.target = Target::Db(db, true);
        }
        self
    }

    pub async fn fetch_all<T: AnyRow>(self) -> Result<Vec<T>> {
        let args = self.args;
        Ok(match self.target {
            Target::Db(Db::Sqlite { writer, reader }, w) => {
                let pool = if w { writer } else { reader };
                let rows = bind_sqlite(sqlx::query(self.sql), &args)
                    .fetch_all(pool)
                    .await?;
                rows.iter().map(T::from_row).collect::<Result<_, _>>()?
            }
            Target::Db(Db::Postgres(p), _) => {
                let sql = numbered(self.sql);
                let rows = bind_pg(sqlx::query(&sql), &args).fetch_all(p).await?;
                rows.iter().map(T::from_row).collect::<Result<_, _>>()?
            }
            Target::Tx(Tx::Sqlite(t)) => {
                let rows = bind_sqlite(sqlx::query(self.sql), &args)
                    .fetch_all(&mut **t)
                    .await?;
                rows.iter().map(T::from_row).collect::<Result<_, _>>()?
            }
            Target::Tx(Tx::Postgres(t)) => {
                let sql = numbered(self.sql);
                let rows = bind_pg(sqlx::query(&sql), &args)
                    .fetch_all(&mut **t)
                    .await?;
                rows.iter().map(T::from_row).collect::<Result<_, _>>()?
            }
        })
    }

    pub async fn fetch_optional<T: AnyRow>(self) -> Result<Option<T>> {
        Ok(self.fetch_all().await?.into_iter().next())
    }

    pub async fn fetch_one<T: AnyRow>(self) -> Result<T> {
        self.fetch_optional()
            .await?
            .ok_or_else(|| super::StorageError::Other("expected a row, got none".into()))
    }

    /// The first column of the one row.
    pub async fn scalar<V>(self) -> Result<V>
    where
        (V,): AnyRow,
    {
        Ok(self.fetch_one::<(V,)>().await?.0)
    }

    /// The first column of the row, if there is one.
    pub async fn scalar_optional<V>(self) -> Result<Option<V>>
    where
        (V,): AnyRow,
    {
        Ok(self.fetch_optional::<(V,)>().await?.map(|r| r.0))
    }

    /// The first column of every row.
    pub async fn scalars<V>(self) -> Result<Vec<V>>
    where
        (V,): AnyRow,
    {
        Ok(self
            .fetch_all::<(V,)>()
            .await?
            .into_iter()
            .map(|r| r.0)
            .collect())
    }

    /// Runs a write; returns the rows affected.
    pub async fn execute(self) -> Result<u64> {
        let args = self.args;
        Ok(match self.target {
            Target::Db(Db::Postgres(p), _) => {
                let sql = numbered(self.sql);
                bind_pg(sqlx::query(&sql), &args)
                    .execute(p)
                    .await?
                    .rows_affected()
            }
            Target::Db(Db::Sqlite { writer, .. }, _) => bind_sqlite(sqlx::query(self.sql), &args)
                .execute(writer)
                .await?
                .rows_affected(),
            Target::Tx(Tx::Sqlite(t)) => bind_sqlite(sqlx::query(self.sql), &args)
                .execute(&mut **t)
                .await?
                .rows_affected(),
            Target::Tx(Tx::Postgres(t)) => {
                let sql = numbered(self.sql);
                bind_pg(sqlx::query(&sql), &args)
                    .execute(&mut **t)
                    .await?
                    .rows_affected()
            }
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_are_numbered_outside_strings() {
        assert_eq!(super::numbered("a = ? AND b = ?"), "a = $1 AND b = $2");
        assert_eq!(super::numbered("a = '?' AND b = ?"), "a = '?' AND b = $1");
    }
}
