//! The Security screen: blocks, offenders, history, and the protection
//! rules. The forms parse, call `ops::protection`, and render.

use super::authn::CurrentUser;
use super::guard::{actor, as_page, form_guard, on_page, Shown};
use super::ui::{render, Page};
use super::AppState;
use crate::ops::{self, OpError};
use crate::storage::{BlockRecord, Role};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use dozor_common::cidr::Cidr;
use dozor_common::protection::{Rule, Settings};
use dozor_ui::components::form::FormError;
use dozor_ui::pages::security::{self as page, BlockRow};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use tracing::instrument;

const WEEK_MS: i64 = 7 * 86_400_000;

fn row(b: &BlockRecord, now_ms: i64) -> BlockRow {
    BlockRow {
        id: b.id,
        address: b.address.clone(),
        host: b.host.clone(),
        service: b.service.clone(),
        reason: b.reason.clone(),
        hits: b.hits,
        dry_run: b.dry_run,
        created_by: b.created_by.clone(),
        since_ms: b.since_ms,
        until_ms: b.until_ms,
        removed: b.removed_by.clone().zip(b.removed_ms),
        active: b.active(now_ms),
    }
}

async fn show(
    s: AppState,
    headers: HeaderMap,
    u: CurrentUser,
    notice: Option<String>,
    error: Option<FormError>,
    typed: Option<Settings>,
) -> Response {
    let now = s.0.ops.now_ms();
    let blocks = match s.0.store.blocks(now - WEEK_MS, 1000).await {
        Ok(b) => b,
        Err(e) => return super::storage_error(e),
    };
    let settings = match typed {
        Some(t) => t,
        None => match ops::protection::settings(&s.0.ops).await {
            Ok(v) => v,
            Err(e) => return as_page(e),
        },
    };
    let mut offenders: BTreeMap<&str, (usize, BTreeSet<String>)> = BTreeMap::new();
    for b in blocks.iter().filter(|b| !b.dry_run) {
        let e = offenders.entry(&b.address).or_default();
        e.0 += 1;
        e.1.insert(b.host.clone().unwrap_or_else(|| "every host".into()));
    }
    let mut offenders: Vec<(String, usize, String)> = offenders
        .into_iter()
        .map(|(a, (n, hosts))| {
            (
                a.to_string(),
                n,
                hosts.into_iter().collect::<Vec<_>>().join(", "),
            )
        })
        .collect();
    offenders.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    offenders.truncate(20);
    let busiest = match s.0.store.top_activity(now - 3_600_000, 20).await {
        Ok(rows) => rows
            .into_iter()
            .map(|r| (r.address, r.requests, r.errors, r.bad_paths, r.places))
            .collect(),
        Err(e) => return super::storage_error(e),
    };
    let failed = error.is_some();
    let data = page::Data {
        busiest,
        active: blocks
            .iter()
            .filter(|b| b.active(now))
            .map(|b| row(b, now))
            .collect(),
        history: blocks.iter().map(|b| row(b, now)).collect(),
        offenders,
        settings,
        can_edit: u.role >= Role::Admin,
        notice,
        error,
    };
    let body: super::ui::BodyFn = Box::new(move |ctx| page::body(ctx, data));
    let page = render(
        s,
        headers,
        None,
        u,
        Page::Custom("Security".into(), "security", body),
    )
    .await;
    super::guard::refused_if(page, failed)
}

#[instrument(skip_all)]
pub async fn page(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let notice = q.get("done").map(|d| match d.as_str() {
        "settings" => "Rules saved; every host follows within a few seconds.".to_string(),
        "block" => "Blocked on every host.".to_string(),
        _ => "Unblocked.".to_string(),
    });
    show(s, headers, u, notice, None, None).await
}

/// The form as settings, or the field that is wrong.
fn parse(f: &HashMap<String, String>) -> Result<Settings, FormError> {
    let num = |name: &str, field: &'static str| -> Result<u32, FormError> {
        let v = f.get(name).map(|v| v.trim()).unwrap_or("");
        v.parse::<u32>()
            .map_err(|_| FormError::field(field, format!("{v:?} is not a whole number")))
    };
    let on = |name: &str| f.get(name).is_some_and(|v| v == "on");
    let rule = |name: &'static str| -> Result<Rule, FormError> {
        Ok(Rule {
            enabled: on(&format!("{name}_enabled")),
            dry_run: on(&format!("{name}_dry_run")),
            limit: num(&format!("{name}_limit"), name)?,
            window_s: num(&format!("{name}_window_s"), name)?,
        })
    };
    let lines = |name: &str| -> Vec<String> {
        f.get(name)
            .map(|v| {
                v.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let allowlist = lines("allowlist")
        .iter()
        .map(|l| l.parse::<Cidr>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| FormError::field("allowlist", e))?;
    Ok(Settings {
        rate: rule("rate")?,
        errors: rule("errors")?,
        bad_paths: rule("bad_paths")?,
        paths: lines("paths"),
        ttl_s: num("ttl_s", "ttl_s")?,
        max_ttl_s: num("max_ttl_s", "ttl_s")?,
        deny_status: num("deny_status", "deny_status")? as u16,
        allowlist,
        fleet_spread: num("fleet_spread", "fleet_spread")?,
        fleet_window_s: num("fleet_window_s", "fleet_spread")?,
    })
}

#[instrument(skip_all, fields(user = %u.name))]
pub async fn save_settings(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = form_guard(&headers, &f, &u, Role::Admin) {
        return refused;
    }
    let settings = match parse(&f) {
        Ok(v) => v,
        Err(e) => return show(s, headers, u, None, Some(e), None).await,
    };
    match ops::protection::save_settings(&s.0.ops, &actor(&u, None), settings.clone()).await {
        Ok(_) => Redirect::to("/security?done=settings").into_response(),
        Err(OpError::Fields(fields)) => {
            let e = fields
                .first()
                .map(|fe| FormError::new(Some(fe.field), fe.message.clone()));
            show(s, headers, u, None, e, Some(settings)).await
        }
        Err(e) => shown_error(s, headers, u, e).await,
    }
}

async fn shown_error(s: AppState, headers: HeaderMap, u: CurrentUser, e: OpError) -> Response {
    match on_page(e) {
        Shown::Answer(r) => r,
        Shown::Notice(n) => show(s, headers, u, None, Some(FormError::general(n)), None).await,
    }
}

#[instrument(skip_all, fields(user = %u.name))]
pub async fn block(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = form_guard(&headers, &f, &u, Role::Admin) {
        return refused;
    }
    let address = f.get("address").cloned().unwrap_or_default();
    let hours = f.get("hours").map(|h| h.trim()).filter(|h| !h.is_empty());
    let ttl_s = match hours.map(|h| h.parse::<u32>()) {
        None => None,
        Some(Ok(h)) if h > 0 && h <= 24 * 365 => Some(h * 3600),
        Some(_) => {
            let e = FormError::field(
                "address",
                "hours must be a whole number from 1 to 8760, or empty",
            );
            return show(s, headers, u, None, Some(e), None).await;
        }
    };
    match ops::protection::block(&s.0.ops, &actor(&u, None), &address, ttl_s).await {
        Ok(_) => Redirect::to("/security?done=block").into_response(),
        Err(OpError::Fields(fields)) => {
            let e = fields
                .first()
                .map(|fe| FormError::new(Some(fe.field), fe.message.clone()));
            show(s, headers, u, None, e, None).await
        }
        Err(e) => shown_error(s, headers, u, e).await,
    }
}

#[instrument(skip_all, fields(user = %u.name, block = id))]
pub async fn unblock(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = form_guard(&headers, &f, &u, Role::Admin) {
        return refused;
    }
    match ops::protection::unblock(&s.0.ops, &actor(&u, None), id).await {
        Ok(_) => Redirect::to("/security?done=unblock").into_response(),
        Err(e) => as_page(e),
    }
}
