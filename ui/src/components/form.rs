//! The one form layout every page uses (`form.form` in dozor.css): a
//! field is its label, the control, help under it and, after a refused
//! submission, what was wrong with it.

use leptos::prelude::*;

/// Why a submission was refused: about one field (by its `name`), shown
/// under that field, or about the form as a whole, shown as a notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormError {
    pub field: Option<&'static str>,
    pub message: String,
}

impl FormError {
    /// About `field` when there is one, else about the whole form.
    pub fn new(field: Option<&'static str>, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }

    pub fn field(name: &'static str, message: impl Into<String>) -> Self {
        Self {
            field: Some(name),
            message: message.into(),
        }
    }

    pub fn general(message: impl Into<String>) -> Self {
        Self {
            field: None,
            message: message.into(),
        }
    }
}

/// The message for the field `name`, if the error is about it.
pub fn error_for(error: Option<&FormError>, name: &str) -> Option<String> {
    error
        .filter(|e| e.field == Some(name))
        .map(|e| e.message.clone())
}

/// A notice for an error about no one field.
pub fn general_error(error: Option<&FormError>) -> Option<AnyView> {
    let message = error.filter(|e| e.field.is_none())?.message.clone();
    notice(Some(message), true)
}

/// A `label.field` around `control`; `help` may be empty.
pub fn field(label: &str, help: &str, error: Option<String>, control: impl IntoView) -> AnyView {
    labelled("field", label, help, error, control)
}

/// A field that takes the whole row of its `.fields` grid.
pub fn wide_field(
    label: &str,
    help: &str,
    error: Option<String>,
    control: impl IntoView,
) -> AnyView {
    labelled("field wide", label, help, error, control)
}

fn labelled(
    class: &str,
    label: &str,
    help: &str,
    error: Option<String>,
    control: impl IntoView,
) -> AnyView {
    let class = if error.is_some() {
        format!("{class} has-error")
    } else {
        class.to_string()
    };
    let help = (!help.is_empty()).then(|| view! { <small class="help">{help.to_string()}</small> });
    let error = error.map(|e| view! { <span class="field-error">{e}</span> });
    view! {
        <label class=class>
            <span class="label">{label.to_string()}</span>
            {control}
            {help}
            {error}
        </label>
    }
    .into_any()
}

/// The hidden CSRF field every POST form carries.
pub fn csrf(token: &str) -> impl IntoView {
    view! { <input type="hidden" name="csrf" value=token.to_string()/> }
}

/// A page-level notice: an error when `error` is set.
pub fn notice(text: Option<String>, error: bool) -> Option<AnyView> {
    let class = if error { "notice error" } else { "notice" };
    text.map(|t| view! { <p class=class role=error.then_some("alert")>{t}</p> }.into_any())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_shows_its_error_only() {
        let e = FormError::field("url", "url: must start with http://");
        assert_eq!(error_for(Some(&e), "job"), None);
        let html = field(
            "URL",
            "Where it serves metrics",
            error_for(Some(&e), "url"),
            view! { <input name="url"/> },
        )
        .to_html();
        assert!(html.starts_with("<label class=\"field has-error\"><span class=\"label\">URL</span><input name=\"url\">"), "{html}");
        assert!(html.contains("<small class=\"help\">Where it serves metrics</small><span class=\"field-error\">url: must start with http://</span></label>"), "{html}");
        let html = field("Job", "", None, view! { <input name="job"/> }).to_html();
        assert!(
            !html.contains("help") && !html.contains("has-error"),
            "{html}"
        );
        assert!(general_error(Some(&e)).is_none());
        let html = general_error(Some(&FormError::general("No.")))
            .unwrap()
            .to_html();
        assert_eq!(html, "<p role=\"alert\" class=\"notice error\">No.</p>");
    }
}
