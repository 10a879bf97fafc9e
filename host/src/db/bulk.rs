//! Multi-row statements: `VALUES (…), (…)` and `IN (…)` lists, in chunks
//! small enough for either engine's parameter limit.
//!
//! PostgreSQL numbers its parameters (`$1`); SQLite gets anonymous `?`
//! here, bound in order, because it looks each *named* parameter (`$n` is
//! a name to SQLite) up in a list when preparing — quadratic in the number
//! of parameters, which is what a multi-row statement is made of.

use super::Conn;

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
        assert_eq!(
            Style::Numbered.values(2, 3, 1),
            "($1, $2, $3), ($4, $5, $6)"
        );
        assert_eq!(Style::Numbered.values(1, 2, 3), "($3, $4)");
        assert_eq!(Style::Numbered.list(3, 2), "$2, $3, $4");
        assert_eq!(Style::Anonymous.values(2, 2, 1), "(?, ?), (?, ?)");
        assert_eq!(Style::Anonymous.list(2, 3), "?, ?");
    }
}
