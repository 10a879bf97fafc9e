//! A query that SQLite and PostgreSQL answer differently inside
//! (`db::dialect`) answers the same on both: orders by calendar month in
//! a store's time zone, across a month's end and a change of summer time.

use clientele::db::dialect::{orders_by_month, MonthOrders};
use clientele::db::Db;
use clientele_e2e::pg;

async fn database(dir: &std::path::Path) -> Db {
    let url = pg::database_for(dir).await.unwrap_or_else(|| Db::sqlite_url(dir));
    let db = Db::connect(&url, 2).await.unwrap();
    db.migrate().await.unwrap();
    db
}

fn ms(rfc3339: &str) -> i64 {
    clientele::domain::time::parse_rfc3339(rfc3339).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_by_month_in_the_stores_time_zone() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path()).await;
    let orders = [
        ("o1", "c1", "2026-01-15T12:00:00Z", 1000),
        // 00:30 on 1 February in Berlin (UTC+1), still January in UTC.
        ("o2", "c2", "2026-01-31T23:30:00Z", 2000),
        ("o3", "c1", "2026-02-10T08:00:00Z", 500),
        // 00:30 UTC on the night summer time begins: 01:30 in Berlin.
        ("o4", "c3", "2026-03-29T00:30:00Z", 700),
        // 22:30 UTC on 31 March: 00:30 on 1 April in Berlin (UTC+2).
        ("o5", "c3", "2026-03-31T22:30:00Z", 300),
        // Another store's order is not this one's.
        ("o6", "c9", "2026-02-01T12:00:00Z", 9999),
    ];
    for (id, customer, at, cents) in orders {
        let store = if id == "o6" { "other" } else { "s" };
        sqlx::query(
            "INSERT INTO orders (store_id, order_id, customer_id, total_cents, currency, placed_at, placed_day)
             VALUES ($1, $2, $3, $4, 'EUR', $5, $6)",
        )
        .bind(store)
        .bind(id)
        .bind(customer)
        .bind(cents as i64)
        .bind(ms(at))
        .bind(ms(at) / 86_400_000)
        .execute(&db.pool)
        .await
        .unwrap();
    }
    let month = |m: &str, orders, customers, total_cents| MonthOrders {
        month: m.to_string(),
        orders,
        customers,
        total_cents,
    };
    let range = (ms("2026-01-01T00:00:00Z"), ms("2026-05-01T00:00:00Z"));
    let mut conn = db.pool.acquire().await.unwrap();
    let berlin = orders_by_month(&mut conn, db.backend, "s", chrono_tz::Europe::Berlin, range)
        .await
        .unwrap();
    assert_eq!(
        berlin,
        [
            month("2026-01", 1, 1, 1000),
            month("2026-02", 2, 2, 2500),
            month("2026-03", 1, 1, 700),
            month("2026-04", 1, 1, 300),
        ],
        "{}",
        db.backend.name()
    );
    let utc = orders_by_month(&mut conn, db.backend, "s", chrono_tz::UTC, range).await.unwrap();
    assert_eq!(
        utc,
        [month("2026-01", 2, 2, 3000), month("2026-02", 1, 1, 500), month("2026-03", 2, 1, 1000)],
        "{}",
        db.backend.name()
    );
}
