//! Browser-less sign-in helpers: forms, cookies and redirects by hand.

use reqwest::{redirect::Policy, Client, Response};

pub fn client() -> Client {
    Client::builder().redirect(Policy::none()).build().unwrap()
}

pub fn set_cookie(r: &Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

pub fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_string()
}

/// GETs `path` and returns (status, CSRF cookie pair, token in the page).
pub async fn form_page(base: &str, path: &str) -> (u16, String, String) {
    let r = client().get(format!("{base}{path}")).send().await.unwrap();
    let status = r.status().as_u16();
    let csrf = pair(&set_cookie(&r, "dozor_csrf").expect("a CSRF cookie"));
    let token = csrf.split_once('=').unwrap().1.to_string();
    (status, csrf, token)
}

pub async fn login(base: &str, user: &str, pw: &str) -> Response {
    let (_, csrf, token) = form_page(base, "/login").await;
    client()
        .post(format!("{base}/login"))
        .header("cookie", csrf)
        .form(&[
            ("csrf", token.as_str()),
            ("username", user),
            ("password", pw),
            ("next", "/agents"),
        ])
        .send()
        .await
        .unwrap()
}

pub async fn get(base: &str, path: &str, cookie: &str) -> Response {
    client()
        .get(format!("{base}{path}"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

/// The CSRF token inside a `Cookie` header value (as `web_session` makes).
pub fn csrf_of(cookie: &str) -> String {
    cookie
        .split("; ")
        .find_map(|c| c.strip_prefix("dozor_csrf="))
        .expect("a CSRF cookie")
        .to_string()
}

/// POSTs a form with the session's CSRF token; (status, body).
pub async fn post_form(
    base: &str,
    cookie: &str,
    path: &str,
    form: &[(&str, &str)],
) -> (u16, String) {
    let csrf = csrf_of(cookie);
    let mut f = vec![("csrf", csrf.as_str())];
    f.extend_from_slice(form);
    let r = client()
        .post(format!("{base}{path}"))
        .header("cookie", cookie)
        .form(&f)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}
