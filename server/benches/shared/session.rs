//! A signed-in browser session for the benchmarks that fetch pages: an
//! admin user `bench` and the `Cookie` header value the login form gives.

use dozor_server::Server;

/// Creates the user and signs in through the form, as a browser does.
pub async fn signed_in(server: &Server) -> String {
    let hash = dozor_server::auth::password::hash("bench password 123");
    server
        .store
        .create_user("bench", &hash, dozor_server::storage::Role::Admin, false, 0)
        .await
        .unwrap();
    let base = server.url();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = http.get(format!("{base}/login")).send().await.unwrap();
    let csrf = page.headers()["set-cookie"].to_str().unwrap();
    let csrf = csrf.split(';').next().unwrap().to_string();
    let token = csrf.split_once('=').unwrap().1.to_string();
    let resp = http
        .post(format!("{base}/login"))
        .header("cookie", &csrf)
        .form(&[
            ("csrf", token.as_str()),
            ("username", "bench"),
            ("password", "bench password 123"),
            ("next", "/"),
        ])
        .send()
        .await
        .unwrap();
    let s = resp.headers()["set-cookie"].to_str().unwrap();
    format!("{csrf}; {}", s.split(';').next().unwrap())
}
