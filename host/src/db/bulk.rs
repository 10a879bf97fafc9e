//! Multi-row statements: `VALUES (…), (…)` and `IN (…)` lists, in chunks
//! small enough for either engine's parameter limit.
//!
//! PostgreSQL numbers its parameters (`$1`); SQLite gets anonymous `?`
//! here, bound in order, because it looks each *named* parameter (`$n` is
//! a name to SQLite) up in a list when preparing — quadratic in the number
//! of parameters, which is what a multi-row statement is made of.

use sqlx::any::{Any, AnyArguments};
use sqlx::query::Query;

use super::Conn;

/// A statement being bound.
pub type AnyQuery<'q> = Query<'q, Any, AnyArguments<'q>>;

/// `sql` in the connection's style: its scalar parameters `$1` … `$k`
/// (`k` = `scalars`, at most 9), then `$list`, an `IN` list of `n`
/// parameters after them.
pub fn with_list(conn: &Conn, sql: &str, scalars: usize, n: usize) -> String {
    let style = Style::of(conn);
    let mut out = sql.replace("$list", &style.list(n, scalars + 1));
    for i in (1..=scalars).rev() {
        out = out.replace(&format!("${i}"), &style.p(i));
    }
    out
}

/// Binds every item of an `IN` list, in order.
pub fn bind_list<'q, T>(mut q: AnyQuery<'q>, items: &'q [T]) -> AnyQuery<'q>
where
    T: sqlx::Encode<'q, Any> + sqlx::Type<Any> + Copy + Send + 'q,
{
    for item in items {
        q = q.bind(*item);
    }
    q
}

/// Rows per multi-row statement.
pub const CHUNK: usize = 200;

/// How placeholders are written for the connection's engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Numbered,
    Anonymous,
}

impl Style {
    pub fn of(conn: &Conn) -> Style {
        if conn.backend_name().eq_ignore_ascii_case("sqlite") {
            Style::Anonymous
        } else {
            Style::Numbered
        }
    }

    fn push(self, out: &mut String, n: usize) {
        match self {
            Style::Numbered => {
                out.push('$');
                out.push_str(&n.to_string());
            }
            Style::Anonymous => out.push('?'),
        }
    }

    /// The `n`th parameter. SQLite binds anonymous ones in order, so a
    /// statement uses this style for all its parameters or none.
    pub fn p(self, n: usize) -> String {
        let mut out = String::new();
        self.push(&mut out, n);
        out
    }

    /// `(p1, …, p_cols), (…), …` for `rows` rows, numbering from `first`.
    pub fn values(self, rows: usize, cols: usize, first: usize) -> String {
        let mut out = String::with_capacity(rows * cols * 5);
        for r in 0..rows {
            if r > 0 {
                out.push_str(", ");
            }
            out.push('(');
            for c in 0..cols {
                if c > 0 {
                    out.push_str(", ");
                }
                self.push(&mut out, first + r * cols + c);
            }
            out.push(')');
        }
        out
    }

    /// `n` parameters from `first`, comma separated, for `IN (…)`.
    pub fn list(self, n: usize, first: usize) -> String {
        let mut out = String::with_capacity(n * 5);
        for i in 0..n {
            if i > 0 {
                out.push_str(", ");
            }
            self.push(&mut out, first + i);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::Style;

    #[test]
    fn placeholders() {
        assert_eq!(Style::Numbered.values(2, 3, 1), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(Style::Numbered.values(1, 2, 3), "($3, $4)");
        assert_eq!(Style::Numbered.list(3, 2), "$2, $3, $4");
        assert_eq!(Style::Anonymous.values(2, 2, 1), "(?, ?), (?, ?)");
        assert_eq!(Style::Anonymous.list(2, 3), "?, ?");
    }

    #[tokio::test]
    async fn lists_in_either_style() {
        sqlx::any::install_default_drivers();
        let mut conn =
            <sqlx::AnyConnection as sqlx::Connection>::connect("sqlite::memory:").await.unwrap();
        let sql = "SELECT a FROM t WHERE s = $1 AND n <= $2 AND id IN ($list)";
        assert_eq!(
            super::with_list(&conn, sql, 2, 3),
            "SELECT a FROM t WHERE s = ? AND n <= ? AND id IN (?, ?, ?)"
        );
        let ids = ["x", "y"];
        let q = super::bind_list(sqlx::query("SELECT ? IN (?, ?) AS hit").bind("y"), &ids);
        let hit: i64 = sqlx::Row::get(&q.fetch_one(&mut conn).await.unwrap(), "hit");
        assert_eq!(hit, 1);
    }
}
