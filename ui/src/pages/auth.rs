//! Sign-in, first-admin setup and "setup pending": pages without the app
//! shell (there is nothing to navigate to before signing in).

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
    let error = error.map(|e| view! { <p class="notice error">{e.to_string()}</p> });
    let content = view! {
        <form method="post" action="/login" class="auth-form">
            <h2>"Sign in"</h2>
            {error}
            <input type="hidden" name="csrf" value=csrf.to_string()/>
            <input type="hidden" name="next" value=next.to_string()/>
            <label>"Username" <input name="username" autocomplete="username" required autofocus/></label>
            <label>"Password" <input name="password" type="password" autocomplete="current-password" required/></label>
            <button type="submit">"Sign in"</button>
        </form>
    };
    bare_document("Sign in", content.into_any())
}

pub fn setup(csrf: &str, token: &str, error: Option<&str>) -> String {
    let error = error.map(|e| view! { <p class="notice error">{e.to_string()}</p> });
    let content = view! {
        <form method="post" action="/setup" class="auth-form">
            <h2>"Create the first admin"</h2>
            <p>"This link works once. Passwords need at least 12 characters and must not be a common one."</p>
            {error}
            <input type="hidden" name="csrf" value=csrf.to_string()/>
            <input type="hidden" name="token" value=token.to_string()/>
            <label>"Username" <input name="username" autocomplete="username" required autofocus/></label>
            <label>"Password" <input name="password" type="password" autocomplete="new-password" required minlength="12"/></label>
            <button type="submit">"Create admin"</button>
        </form>
    };
    bare_document("Setup", content.into_any())
}

/// Accepting an invitation: the admin chose the role, the user picks the
/// name and password.
pub fn invite(csrf: &str, token: &str, role: &str, error: Option<&str>) -> String {
    let error = error.map(|e| view! { <p class="notice error">{e.to_string()}</p> });
    let intro = format!(
        "You are invited as {role}. Choose a username and a password of at least 12 characters."
    );
    let content = view! {
        <form method="post" action="/invite" class="auth-form">
            <h2>"Join dozor"</h2>
            <p>{intro}</p>
            {error}
            <input type="hidden" name="csrf" value=csrf.to_string()/>
            <input type="hidden" name="token" value=token.to_string()/>
            <label>"Username" <input name="username" autocomplete="username" required autofocus/></label>
            <label>"Password" <input name="password" type="password" autocomplete="new-password" required minlength="12"/></label>
            <button type="submit">"Create account"</button>
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
