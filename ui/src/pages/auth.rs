//! Sign-in, first-admin setup and "setup pending": pages without the app
//! shell (there is nothing to navigate to before signing in).

use crate::components::form::{error_for, field, general_error, FormError};
use leptos::prelude::*;

/// A minimal document around `content`.
pub fn bare_document(title: &str, content: AnyView) -> String {
    let (css, _) = crate::assets::names();
    let css = format!("/assets/{css}");
    let page_title = format!("{title} · dozor");
    let body = view! {
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <title>{page_title}</title>
                <link rel="icon" href="/assets/favicon.svg" type="image/svg+xml"/>
                <link rel="stylesheet" href=css/>
            </head>
            <body class="bare">
                <main id="main" class="auth">
                    <h1 class="brand">"dozor"</h1>
                    {content}
                </main>
            </body>
        </html>
    };
    format!("<!DOCTYPE html>{}", body.to_html().replace("<!>", ""))
}

pub fn login(csrf: &str, next: &str, error: Option<&str>) -> String {
    let error = error.map(|e| FormError::general(e.to_string()));
    let content = view! {
        <form method="post" action="/login" class="form auth-form">
            <h2>"Sign in"</h2>
            {general_error(error.as_ref())}
            <input type="hidden" name="csrf" value=csrf.to_string()/>
            <input type="hidden" name="next" value=next.to_string()/>
            {field("Username", "", None, view! {
                <input name="username" autocomplete="username" required autofocus/>
            })}
            {field("Password", "", None, view! {
                <input name="password" type="password" autocomplete="current-password" required/>
            })}
            <div class="actions"><button type="submit" class="primary">"Sign in"</button></div>
        </form>
    };
    bare_document("Sign in", content.into_any())
}

/// The username and password fields of a new account.
fn account_fields(error: Option<&FormError>) -> impl IntoView {
    view! {
        {field("Username", "1 to 64 characters; how you sign in.", error_for(error, "username"), view! {
            <input name="username" autocomplete="username" maxlength="64" required autofocus/>
        })}
        {field("Password", "At least 12 characters and not a common one.", error_for(error, "password"), view! {
            <input name="password" type="password" autocomplete="new-password" required minlength="12"/>
        })}
    }
}

pub fn setup(csrf: &str, token: &str, error: Option<&FormError>) -> String {
    let content = view! {
        <form method="post" action="/setup" class="form auth-form">
            <h2>"Create the first admin"</h2>
            <p>"This link works once. The admin you create here can then invite everyone else."</p>
            {general_error(error)}
            <input type="hidden" name="csrf" value=csrf.to_string()/>
            <input type="hidden" name="token" value=token.to_string()/>
            {account_fields(error)}
            <div class="actions"><button type="submit" class="primary">"Create admin"</button></div>
        </form>
    };
    bare_document("Setup", content.into_any())
}

/// Accepting an invitation: the admin chose the role, the user picks the
/// name and password.
pub fn invite(csrf: &str, token: &str, role: &str, error: Option<&FormError>) -> String {
    let intro = format!("You are invited as {role}. Choose a username and a password.");
    let content = view! {
        <form method="post" action="/invite" class="form auth-form">
            <h2>"Join dozor"</h2>
            <p>{intro}</p>
            {general_error(error)}
            <input type="hidden" name="csrf" value=csrf.to_string()/>
            <input type="hidden" name="token" value=token.to_string()/>
            {account_fields(error)}
            <div class="actions"><button type="submit" class="primary">"Create account"</button></div>
        </form>
    };
    bare_document("Invitation", content.into_any())
}

/// An invitation link that is unknown, used, revoked or expired.
pub fn invite_invalid() -> String {
    let content = view! {
        <section class="auth-form">
            <h2>"Invitation not valid"</h2>
            <p>"This link is unknown, already used, revoked or expired. Ask an admin for a new one."</p>
        </section>
    };
    bare_document("Invitation", content.into_any())
}

/// A setup link opened after the first admin exists.
pub fn setup_done() -> String {
    let content = view! {
        <section class="auth-form">
            <h2>"Setup is done"</h2>
            <p>"This setup link was used already: an admin exists. Sign in, or ask an admin for an invitation."</p>
            <p><a href="/login">"Sign in"</a></p>
        </section>
    };
    bare_document("Setup is done", content.into_any())
}

pub fn setup_pending() -> String {
    let content = view! {
        <section class="auth-form">
            <h2>"Setup pending"</h2>
            <p>"No admin exists yet. Open the one-time setup link that dozor-server printed to its log at start, then sign in."</p>
        </section>
    };
    bare_document("Setup pending", content.into_any())
}
