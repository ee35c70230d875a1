//! Every route × every role → the expected status, in one table. The
//! forms carry a valid CSRF token, so the role (or the lack of a session)
//! is what decides. A mismatch prints the whole table of differences.

#[path = "role_matrix/coverage.rs"]
mod coverage;
#[path = "role_matrix/services.rs"]
mod services;
use crate::support;

use dozor_server::storage::Role;
use support::web::{client, form_page, login, pair, set_cookie};
use support::*;

#[derive(Clone, Copy)]
enum M {
    Get,
    Post,
    Put,
    Delete,
}

/// Expected statuses for [anonymous, viewer, editor, admin].
type Want = [u16; 4];

/// Method, path, form fields (besides the CSRF token), expected statuses.
type Route<'a> = (M, String, Vec<(&'a str, &'a str)>, Want);

const PAGE: Want = [303, 200, 200, 200];
const ADMIN_PAGE: Want = [303, 403, 403, 200];
const EDITOR_PAGE: Want = [303, 403, 200, 200];
const READ_API: Want = [401, 200, 200, 200];
const PUBLIC: Want = [200, 200, 200, 200];

#[tokio::test]
async fn every_route_for_every_role() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, None).await;
    let base = server.url();
    let admin_cookie = web_session(&server).await;
    let hash = dozor_server::auth::password::hash(ADMIN_PASSWORD);
    let mut ids = Vec::new();
    for (name, role) in [
        ("vic", Role::Viewer),
        ("ed", Role::Editor),
        ("target", Role::Viewer),
    ] {
        ids.push(
            server
                .store
                .create_user(name, &hash, role, false, now_ms())
                .await
                .unwrap()
                .unwrap(),
        );
    }
    let target = ids[2];
    let (_, csrf, token) = form_page(&base, "/login").await;
    let mut cookies = vec![csrf.clone()];
    for name in ["vic", "ed"] {
        let r = login(&base, name, ADMIN_PASSWORD).await;
        let session = pair(&set_cookie(&r, "dozor_session").unwrap());
        cookies.push(format!("{csrf}; {session}"));
    }
    let admin_session = admin_cookie.split("; ").nth(1).unwrap().to_string();
    cookies.push(format!("{csrf}; {admin_session}"));

    let t = now_ms() / 1000;
    let range = format!("start={}&end={t}&step=60", t - 600);
    let u = |p: &str| p.replace("{target}", &target.to_string());
    let mut routes: Vec<Route> = vec![
        (M::Get, "/".into(), vec![], PAGE),
        (M::Get, "/hosts/web-1".into(), vec![], PAGE),
        (M::Get, "/d/dozor".into(), vec![], PAGE),
        (M::Get, "/d".into(), vec![], PAGE),
        (M::Get, "/explore?q=up".into(), vec![], PAGE),
        (M::Get, "/agents".into(), vec![], PAGE),
        (M::Get, "/account".into(), vec![], PAGE),
        (M::Get, "/users".into(), vec![], ADMIN_PAGE),
        (M::Get, "/settings/telegram".into(), vec![], PAGE),
        (M::Get, "/rules".into(), vec![], PAGE),
        (M::Get, "/targets".into(), vec![], PAGE),
        (M::Get, "/containers".into(), vec![], PAGE),
        (M::Get, "/alerts".into(), vec![], PAGE),
        (M::Get, "/silences".into(), vec![], PAGE),
        (
            M::Post,
            "/silences".into(),
            vec![
                ("matchers", "alertname=\"Matrix\""),
                ("duration", "1h"),
                ("comment", "role matrix"),
            ],
            EDITOR_PAGE,
        ),
        (
            M::Post,
            "/silences/999999/expire".into(),
            vec![],
            EDITOR_PAGE,
        ),
        (
            M::Get,
            "/containers/view?host=web-1&name=x".into(),
            vec![],
            PAGE,
        ),
        // Signed in, anyone may read logs: here the host does not exist.
        (
            M::Get,
            "/containers/logs?host=nobody&name=x".into(),
            vec![],
            [303, 404, 404, 404],
        ),
        (
            M::Post,
            "/containers/action".into(),
            vec![("host", "nobody"), ("name", "x"), ("action", "start")],
            [303, 403, 403, 404],
        ),
        (
            M::Post,
            "/targets".into(),
            vec![
                ("host", "nobody"),
                ("job", "j"),
                ("url", "http://127.0.0.1:9/"),
            ],
            ADMIN_PAGE,
        ),
        (M::Post, "/targets/999999/delete".into(), vec![], ADMIN_PAGE),
        (
            M::Get,
            "/rules/new?preset=cpu&param=90".into(),
            vec![],
            EDITOR_PAGE,
        ),
        (M::Get, "/rules/edit?name=Nope".into(), vec![], EDITOR_PAGE),
        (
            M::Post,
            "/rules/preview".into(),
            vec![("name", "M"), ("expr", "up == 0")],
            EDITOR_PAGE,
        ),
        (
            M::Post,
            "/rules/save".into(),
            vec![("name", "Matrix"), ("expr", "up == 0")],
            EDITOR_PAGE,
        ),
        (
            M::Post,
            "/rules/delete".into(),
            vec![("name", "Matrix")],
            EDITOR_PAGE,
        ),
        (
            M::Post,
            "/getting-started/dismiss".into(),
            vec![],
            // Back to the overview once dismissed.
            [303, 403, 403, 303],
        ),
        (
            M::Post,
            "/rules/builtin".into(),
            vec![("name", "HostDown"), ("action", "disable")],
            EDITOR_PAGE,
        ),
        (
            M::Get,
            "/rules/edit?builtin=HostDown".into(),
            vec![],
            EDITOR_PAGE,
        ),
        (
            M::Post,
            "/settings/telegram/code".into(),
            vec![("channel", "default")],
            PAGE,
        ),
        (
            M::Post,
            "/settings/telegram/token".into(),
            vec![("token", "not a token")],
            ADMIN_PAGE,
        ),
        (
            M::Post,
            "/settings/telegram/test".into(),
            vec![("chat", "1")],
            ADMIN_PAGE,
        ),
        (
            M::Post,
            "/settings/telegram/unlink/1".into(),
            vec![],
            ADMIN_PAGE,
        ),
        (M::Get, "/audit".into(), vec![], ADMIN_PAGE),
        (
            M::Post,
            "/agents/enroll-token".into(),
            vec![("hours", "1")],
            ADMIN_PAGE,
        ),
        (M::Post, "/agents/revoke-tokens".into(), vec![], ADMIN_PAGE),
        (M::Post, "/agents/nobody/revoke".into(), vec![], ADMIN_PAGE),
        (
            M::Post,
            "/users".into(),
            vec![
                ("username", "newbie"),
                ("password", "a long enough passphrase"),
                ("role", "viewer"),
            ],
            ADMIN_PAGE,
        ),
        (
            M::Post,
            u("/users/{target}/role"),
            vec![("role", "editor")],
            ADMIN_PAGE,
        ),
        (
            M::Post,
            u("/users/{target}/password"),
            vec![("password", "another long passphrase")],
            ADMIN_PAGE,
        ),
        (M::Post, u("/users/{target}/disable"), vec![], ADMIN_PAGE),
        (
            M::Post,
            "/users/invite".into(),
            vec![("role", "viewer"), ("hours", "1")],
            ADMIN_PAGE,
        ),
        (
            M::Post,
            "/users/invites/999999/revoke".into(),
            vec![],
            ADMIN_PAGE,
        ),
        (
            M::Get,
            "/invite?token=guess".into(),
            vec![],
            [403, 403, 403, 403],
        ),
        (M::Post, u("/users/{target}/enable"), vec![], ADMIN_PAGE),
        (
            M::Post,
            "/account/tokens".into(),
            vec![("name", "matrix"), ("scope", "read"), ("expires_days", "1")],
            PAGE,
        ),
        (
            M::Post,
            "/account/tokens/999999/revoke".into(),
            vec![],
            PAGE,
        ),
        (
            M::Post,
            "/account/password".into(),
            vec![
                ("current", "not the password"),
                ("password", "whatever it is now"),
            ],
            PAGE,
        ),
        (
            M::Post,
            "/prometheus/api/v1/query".into(),
            vec![("query", "1")],
            READ_API,
        ),
        (
            M::Get,
            format!("/prometheus/api/v1/query_range?query=up&{range}"),
            vec![],
            READ_API,
        ),
        (
            M::Get,
            "/api/v1/series/999999/samples".into(),
            vec![],
            [401, 404, 404, 404],
        ),
        // A session's scope follows the role: editors and admins may write
        // (the empty body then fails decoding), viewers may not.
        (
            M::Post,
            "/prometheus/api/v1/write".into(),
            vec![],
            [401, 403, 400, 400],
        ),
        // Agents authenticate with their own keys, never a session.
        (
            M::Post,
            "/api/v1/agents/heartbeat".into(),
            vec![],
            [401, 401, 401, 401],
        ),
        (
            M::Post,
            "/api/v1/agents/enroll".into(),
            vec![],
            [400, 400, 400, 400],
        ),
        (M::Get, "/metrics".into(), vec![], PUBLIC),
        (M::Get, "/healthz".into(), vec![], PUBLIC),
        (M::Get, "/readyz".into(), vec![], PUBLIC),
        (M::Get, "/login".into(), vec![], PUBLIC),
        (
            M::Get,
            "/setup?token=guess".into(),
            vec![],
            [403, 403, 403, 403],
        ),
    ];
    routes.extend(services::routes());
    // Read-API GETs: 401 without credentials, 200 for every role.
    routes.extend(
        [
            "/prometheus/api/v1/query?query=up",
            "/prometheus/api/v1/series?match[]=up",
            "/prometheus/api/v1/label/job/values",
            "/prometheus/api/v1/metadata",
            "/prometheus/api/v1/query_exemplars",
            "/prometheus/api/v1/status/buildinfo",
            "/prometheus/api/v1/status/runtimeinfo",
            "/prometheus/api/v1/status/flags",
            "/prometheus/api/v1/status/config",
            "/prometheus/api/v1/format_query?query=up",
            "/prometheus/api/v1/parse_query?query=up",
            "/prometheus/federate?match[]=up",
            "/prometheus/api/v1/labels",
            "/prometheus/api/v1/rules",
            "/prometheus/api/v1/alerts",
            "/api/v1/agents",
            "/api/v1/series",
        ]
        .map(|p| (M::Get, p.to_string(), vec![], READ_API)),
    );
    // Last: it ends the sessions.
    routes.push((M::Post, "/logout".into(), vec![], [303, 303, 303, 303]));
    let paths: Vec<&str> = routes.iter().map(|(_, p, _, _)| p.as_str()).collect();
    let uncovered = coverage::uncovered(&server.routes, &paths);
    assert!(
        uncovered.is_empty(),
        "routes the role matrix does not cover: {uncovered:#?}"
    );
    let who = ["anonymous", "viewer", "editor", "admin"];
    let mut wrong = Vec::new();
    for (method, path, fields, want) in &routes {
        for (i, cookie) in cookies.iter().enumerate() {
            let url = format!("{base}{path}");
            let req = match method {
                M::Get => client().get(url),
                M::Post => {
                    let mut form = vec![("csrf", token.as_str())];
                    form.extend(fields.iter().copied());
                    client().post(url).form(&form)
                }
                M::Put => client().put(url).form(&fields),
                M::Delete => client().delete(url),
            };
            let got = req
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16();
            if got != want[i] {
                wrong.push(format!("{path} as {}: got {got}, want {}", who[i], want[i]));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} cells differ:\n{}",
        wrong.len(),
        routes.len() * 4,
        wrong.join("\n")
    );
    server.shutdown().await;
}
