//! Silences: create from matcher text (the Silences page, `/silence` in
//! Telegram) or from an alert's exact labels (the "Silence 1h" buttons),
//! and expire. Editors and admins; audited.

use super::{Actor, OpError, OpResult, Ops};
use crate::alerting::silence::{self, Matcher};
use crate::storage::{Role, SilenceRow};

/// Longest comment kept with a silence.
const MAX_COMMENT_CHARS: usize = 500;

/// A silence as created.
#[derive(Debug, Clone)]
pub struct Created {
    pub id: i64,
    /// The matchers as text, `alertname="DiskFull", host=~"web-.*"`.
    pub matchers: String,
}

/// Parses `1m`..`365d`.
pub fn duration_ms(text: &str) -> OpResult<i64> {
    match dozor_common::parse_duration(text.trim()) {
        Ok(d) if d.as_secs() >= 60 && d.as_secs() <= 365 * 86_400 => Ok(d.as_millis() as i64),
        _ => Err(OpError::Invalid(
            "the duration is 1m to 365d, e.g. 2h".into(),
        )),
    }
}

/// Silences what `matchers` (PromQL matcher syntax, or a bare alert name)
/// match for `duration` (`1m`..`365d`).
pub async fn create(
    ops: &Ops,
    actor: &Actor,
    matchers: &str,
    duration: &str,
    comment: &str,
) -> OpResult<Created> {
    Ops::require(actor, Role::Editor)?;
    let what = matchers.trim();
    let text =
        if what.is_empty() || what.contains('=') || what.contains('~') || what.starts_with('{') {
            what.to_string()
        } else {
            format!("alertname={what:?}")
        };
    let parsed = silence::parse(&text).map_err(OpError::Invalid)?;
    create_matching(ops, actor, parsed, duration_ms(duration)?, comment).await
}

/// Silences exactly `matchers` for `ms`.
pub async fn create_matching(
    ops: &Ops,
    actor: &Actor,
    matchers: Vec<Matcher>,
    ms: i64,
    comment: &str,
) -> OpResult<Created> {
    Ops::require(actor, Role::Editor)?;
    let comment = comment.trim();
    if comment.is_empty() || comment.chars().count() > MAX_COMMENT_CHARS {
        return Err(OpError::Invalid(format!(
            "say why, in up to {MAX_COMMENT_CHARS} characters"
        )));
    }
    let now = ops.now_ms();
    let row = SilenceRow {
        id: 0,
        matchers: silence::to_json(&matchers),
        starts_ms: now,
        ends_ms: now + ms,
        author: actor.name.clone(),
        comment: comment.to_string(),
        created_ms: now,
    };
    let id = ops.store().create_silence(&row).await?;
    let text: Vec<String> = matchers.iter().map(|m| m.to_string()).collect();
    let text = text.join(", ");
    ops.audit(actor, "silence.create", Some(text.clone())).await;
    Ok(Created { id, matchers: text })
}

/// Ends a silence now. NotFound when it is not active.
pub async fn expire(ops: &Ops, actor: &Actor, id: i64) -> OpResult<()> {
    Ops::require(actor, Role::Editor)?;
    if !ops.store().expire_silence(id, ops.now_ms()).await? {
        return Err(OpError::NotFound("No such active silence.".into()));
    }
    ops.audit(actor, "silence.expire", Some(format!("#{id}")))
        .await;
    Ok(())
}
