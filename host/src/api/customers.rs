use super::params::ValidQuery;
use axum::Json;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::auth::{CustomerScope, StoreScope};
use super::params::{CustomerPath, StorePath};
use super::valid::Valid;
use super::ApiError;
use crate::db::customers::{self, ProfileUpdate};
use crate::domain::contact;
use crate::domain::customer::Customer;
use crate::domain::event::FieldError;
use crate::domain::time::to_rfc3339;

/// What a customer's record says, with points, tier, segments and stats.
#[derive(Serialize, ToSchema)]
pub struct CustomerView {
    pub id: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub name: Option<String>,
    #[schema(format = Date)]
    pub birthday: Option<String>,
    pub tags: Vec<String>,
    pub attributes: Value,
    pub points_balance: i64,
    /// The tier the point-rules plugin last set, if any.
    pub tier: Option<String>,
    /// Names of the segments the customer is in.
    pub segments: Vec<String>,
    pub stats: CustomerStatsView,
}

#[derive(Serialize, ToSchema)]
pub struct CustomerStatsView {
    pub orders: u32,
    /// Days (in the store's time zone) with at least one order, after the first.
    pub repeat_days: u32,
    pub net_spend_cents: i64,
    #[schema(format = DateTime)]
    pub first_order_at: Option<String>,
    #[schema(format = DateTime)]
    pub last_order_at: Option<String>,
}

impl CustomerView {
    pub fn new(c: &Customer, segments: Vec<String>) -> Self {
        CustomerView {
            id: c.id.clone(),
            email: c.email.clone(),
            phone: c.phone.clone(),
            name: c.name.clone(),
            birthday: c.birthday.clone(),
            tags: c.tags.clone(),
            attributes: c.attributes.clone(),
            points_balance: c.points_balance,
            tier: c.tier.clone(),
            segments,
            stats: CustomerStatsView {
                orders: c.stats.orders,
                repeat_days: c.stats.repeat_days,
                net_spend_cents: c.stats.net_spend_cents,
                first_order_at: c.stats.first_order_at.map(to_rfc3339),
                last_order_at: c.stats.last_order_at.map(to_rfc3339),
            },
        }
    }
}

/// A profile change: a field left out stays as it is, `null` clears it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePut {
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = super::schemas::email)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = super::schemas::phone)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(max_length = 200)]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(format = Date, example = "1990-05-17")]
    pub birthday: Option<Option<String>>,
    /// At most 100 tags of 1-64 characters; replaces the current tags.
    #[schema(schema_with = super::schemas::tags)]
    pub tags: Option<Vec<String>>,
    /// A JSON object of at most 16 KiB; replaces the current attributes.
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<Value>,
}

/// A field that is present (even as `null`) is `Some`.
pub(super) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

impl ProfilePut {
    fn into_update(self) -> Result<ProfileUpdate, ApiError> {
        let mut errors = Vec::new();
        for (i, t) in self.tags.iter().flatten().enumerate() {
            if t.is_empty() || t.chars().count() > 64 {
                errors.push(FieldError::new(
                    format!("tags[{i}]"),
                    "must be a string of 1-64 characters",
                ));
            }
        }
        if let Some(Some(e)) = &self.email {
            if !contact::is_valid_email(e) {
                errors.push(FieldError::new("email", contact::EMAIL_RULE));
            }
        }
        if let Some(Some(p)) = &self.phone {
            if !contact::is_valid_phone(p) {
                errors.push(FieldError::new("phone", contact::PHONE_RULE));
            }
        }
        // The schema checks the shape of a date; this, that the day exists.
        if let Some(Some(b)) = &self.birthday {
            if chrono::NaiveDate::parse_from_str(b, "%Y-%m-%d").is_err() {
                errors.push(FieldError::new("birthday", "must be a date YYYY-MM-DD"));
            }
        }
        if let Some(a) = &self.attributes {
            // The schema admits only an object; its size is checked here.
            if a.to_string().len() > 16 * 1024 {
                errors
                    .push(FieldError::new("attributes", "must be a JSON object of at most 16 KiB"));
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::invalid(errors));
        }
        Ok(ProfileUpdate {
            email: self.email,
            phone: self.phone,
            name: self.name,
            birthday: self.birthday,
            tags: self.tags,
            attributes: self.attributes,
        })
    }
}

/// Create or update a customer profile
#[utoipa::path(put, path = "/v1/stores/{store}/customers/{customer}", operation_id = "putCustomer", tag = "customers",
    params(StorePath, CustomerPath), request_body = ProfilePut,
    responses((status = 200, body = CustomerView)))]
pub async fn put(
    scope: CustomerScope,
    Valid(body): Valid<ProfilePut>,
) -> Result<Json<CustomerView>, ApiError> {
    let update = body.into_update()?;
    let c = scope.pipeline.put_profile(&scope.store, &scope.customer, &update).await?;
    Ok(Json(CustomerView::new(&c, Vec::new())))
}

/// Profile, points balance, tier, segments and stats
#[utoipa::path(get, path = "/v1/stores/{store}/customers/{customer}", operation_id = "getCustomer", tag = "customers",
    params(StorePath, CustomerPath), responses((status = 200, body = CustomerView)))]
pub async fn get(scope: CustomerScope) -> Result<Json<CustomerView>, ApiError> {
    let (store, customer) = (&scope.store, &scope.customer);
    let mut conn = scope.conn().await?;
    let c = customers::get(&mut conn, store, customer)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("customer `{customer}` not found")))?;
    let segments = crate::db::segments::of_customer(&mut conn, store, customer).await?;
    drop(conn);
    super::privacy::count_reads(&scope, [&c]).await?;
    Ok(Json(CustomerView::new(&c, segments)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomersQuery {
    /// Only customers whose id, name or e-mail contains this (any case).
    #[serde(default)]
    #[param(max_length = 200)]
    q: String,
    /// Customers to skip (the page's start), at most 10,000,000.
    #[serde(default)]
    #[param(minimum = 0, maximum = 10_000_000)]
    offset: u32,
    /// Customers per page, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// A page of customers.
#[derive(Serialize, ToSchema)]
pub struct CustomerPage {
    /// How many customers match, over all pages.
    pub total: i64,
    pub customers: Vec<CustomerView>,
}

/// Search and page through the store's customers, by id
#[utoipa::path(get, path = "/v1/stores/{store}/customers", operation_id = "listCustomers", tag = "customers",
    params(StorePath, CustomersQuery), responses((status = 200, body = CustomerPage)))]
pub async fn list(
    scope: StoreScope,
    ValidQuery(q): ValidQuery<CustomersQuery>,
) -> Result<Json<CustomerPage>, ApiError> {
    let limit = super::params::page_limit(q.limit)?;
    if q.q.chars().count() > 200 {
        return Err(ApiError::field("q", "must be at most 200 characters"));
    }
    if q.offset > 10_000_000 {
        return Err(ApiError::field("offset", "must be 0 to 10000000"));
    }
    let mut conn = scope.conn().await?;
    let (found, total) =
        customers::search(&mut conn, &scope.store, q.q.trim(), q.offset, limit).await?;
    let ids: Vec<&str> = found.iter().map(|c| c.id.as_str()).collect();
    let mut segments = crate::db::segments::names_of(&mut conn, &scope.store, &ids).await?;
    drop(conn);
    super::privacy::count_reads(&scope, &found).await?;
    let customers = found
        .iter()
        .map(|c| CustomerView::new(c, segments.remove(&c.id).unwrap_or_default()))
        .collect();
    Ok(Json(CustomerPage { total, customers }))
}

/// A segment the customer is in, with what the segmenter said of them.
#[derive(Serialize, ToSchema)]
pub struct MembershipView {
    pub segment: String,
    /// The segmenter's attributes (RFM scores, reasons, …).
    pub attributes: Value,
}

/// Everything about one customer beyond the profile.
#[derive(Serialize, ToSchema)]
pub struct CustomerActivity {
    pub memberships: Vec<MembershipView>,
    /// The survey responses they gave, oldest first.
    pub answers: Vec<crate::db::surveys::Response>,
    pub messages: Vec<crate::db::messages::Message>,
}

/// A customer's segments with their attributes, survey answers and messages
#[utoipa::path(get, path = "/v1/stores/{store}/customers/{customer}/activity", operation_id = "getCustomerActivity", tag = "customers",
    params(StorePath, CustomerPath), responses((status = 200, body = CustomerActivity)))]
pub async fn activity(scope: CustomerScope) -> Result<Json<CustomerActivity>, ApiError> {
    let (store, customer) = (&scope.store, &scope.customer);
    let mut conn = scope.conn().await?;
    if customers::get(&mut conn, store, customer).await?.is_none() {
        return Err(ApiError::not_found(format!("customer `{customer}` not found")));
    }
    let memberships = crate::db::segments::memberships_of(&mut conn, store, customer)
        .await?
        .into_iter()
        .map(|(segment, attributes)| MembershipView { segment, attributes })
        .collect();
    let answers = crate::db::surveys::responses_of(&mut conn, store, customer).await?;
    let messages = crate::db::messages::of_customer(&mut conn, store, customer).await?;
    Ok(Json(CustomerActivity { memberships, answers, messages }))
}
