//! The Services, Error pages and Security rows of the role matrix.

use super::{Route, EDITOR_PAGE, M, PAGE, READ_API};

/// Admins only, and what an admin gets for the row's (bad) input.
const ADMIN_BAD: [u16; 4] = [303, 403, 403, 400];
const ADMIN_API_BAD: [u16; 4] = [401, 403, 403, 400];

pub fn routes() -> Vec<Route<'static>> {
    vec![
        (M::Get, "/services".into(), vec![], PAGE),
        (M::Get, "/services/new".into(), vec![], EDITOR_PAGE),
        // No agent called web-1: the form comes back naming the host.
        (
            M::Post,
            "/services/new".into(),
            vec![
                ("name", "matrix"),
                ("host", "web-1"),
                ("domains", "matrix.test"),
                ("lb", "round_robin"),
                ("max_body", "1m"),
                ("connect_timeout_s", "5"),
                ("read_timeout_s", "60"),
                ("send_timeout_s", "60"),
                ("max_fails", "1"),
                ("fail_timeout_s", "10"),
            ],
            [303, 403, 400, 400],
        ),
        (
            M::Get,
            "/services/nope".into(),
            vec![],
            [303, 404, 404, 404],
        ),
        (
            M::Get,
            "/services/nope/edit".into(),
            vec![],
            [303, 403, 404, 404],
        ),
        (
            M::Post,
            "/services/nope/edit".into(),
            vec![("lb", "round_robin")],
            [303, 403, 400, 400],
        ),
        (
            M::Post,
            "/services/nope/delete".into(),
            vec![],
            [303, 403, 404, 404],
        ),
        (M::Get, "/error-pages?status=503".into(), vec![], PAGE),
        (
            M::Post,
            "/error-pages".into(),
            vec![("status", "503"), ("html", "<p>matrix</p>"), ("do", "save")],
            EDITOR_PAGE,
        ),
        (
            M::Get,
            "/error-pages/preview?status=503".into(),
            vec![],
            PAGE,
        ),
        (M::Get, "/api/v1/services".into(), vec![], READ_API),
        (
            M::Get,
            "/api/v1/services/nope".into(),
            vec![],
            [401, 404, 404, 404],
        ),
        // A form is not JSON: editors get past the scope to a 400.
        (
            M::Post,
            "/api/v1/services".into(),
            vec![],
            [401, 403, 400, 400],
        ),
        (
            M::Get,
            "/services/nope/scaling".into(),
            vec![],
            [303, 404, 404, 404],
        ),
        (
            M::Post,
            "/services/nope/scaling".into(),
            vec![("do", "save"), ("min", "1")],
            [303, 403, 404, 404],
        ),
        (
            M::Post,
            "/services/nope/scale".into(),
            vec![("replicas", "2")],
            [303, 403, 404, 404],
        ),
        (
            M::Get,
            "/api/v1/services/nope/autoscale".into(),
            vec![],
            READ_API,
        ),
        (
            M::Put,
            "/api/v1/services/nope/autoscale".into(),
            vec![],
            [401, 403, 400, 400],
        ),
        (
            M::Delete,
            "/api/v1/services/nope/autoscale".into(),
            vec![],
            [401, 403, 404, 404],
        ),
        // A preview changes nothing: read scope is enough.
        (
            M::Post,
            "/api/v1/services/nope/autoscale/preview".into(),
            vec![],
            [401, 400, 400, 400],
        ),
        (
            M::Post,
            "/api/v1/services/nope/scale".into(),
            vec![],
            [401, 403, 400, 400],
        ),
        (
            M::Get,
            "/api/v1/services/nope/scale-events".into(),
            vec![],
            READ_API,
        ),
        (M::Get, "/security".into(), vec![], PAGE),
        (M::Get, "/certificates".into(), vec![], PAGE),
        // Refusals below are shown on the page (400) naming the problem.
        (
            M::Post,
            "/certificates/acme".into(),
            vec![("preset", "other"), ("directory", "ftp://ca.test/")],
            ADMIN_BAD,
        ),
        (
            M::Post,
            "/certificates/issue".into(),
            vec![("service", "nope")],
            [303, 403, 400, 400],
        ),
        (
            M::Post,
            "/certificates/upload".into(),
            vec![("service", "nope"), ("certificate", "x"), ("key", "y")],
            [303, 403, 400, 400],
        ),
        (
            M::Post,
            "/certificates/nope/renew".into(),
            vec![],
            [303, 403, 400, 400],
        ),
        (M::Get, "/api/v1/certificates".into(), vec![], READ_API),
        (
            M::Post,
            "/api/v1/certificates/nope/revoke".into(),
            vec![],
            [401, 403, 404, 404],
        ),
        // A form is not JSON: editors get past the scope to a 400.
        (
            M::Put,
            "/api/v1/certificates/nope".into(),
            vec![],
            [401, 403, 400, 400],
        ),
        (M::Get, "/api/v1/acme".into(), vec![], READ_API),
        (M::Put, "/api/v1/acme".into(), vec![], ADMIN_API_BAD),
        (M::Get, "/checks".into(), vec![], PAGE),
        // A bad interval: editors get past the role to a 400.
        (
            M::Post,
            "/checks".into(),
            vec![
                ("name", "m"),
                ("target", "http://example.com/"),
                ("interval_s", "1"),
                ("timeout_s", "1"),
            ],
            [303, 403, 400, 400],
        ),
        (
            M::Post,
            "/checks/nope/delete".into(),
            vec![],
            [303, 403, 404, 404],
        ),
        (M::Get, "/api/v1/checks".into(), vec![], READ_API),
        (
            M::Post,
            "/api/v1/checks".into(),
            vec![],
            [401, 403, 400, 400],
        ),
        (
            M::Delete,
            "/api/v1/checks/nope".into(),
            vec![],
            [401, 403, 404, 404],
        ),
        (
            M::Post,
            "/security/settings".into(),
            vec![("rate_limit", "lots")],
            ADMIN_BAD,
        ),
        (
            M::Post,
            "/security/blocks".into(),
            vec![("address", "not an address")],
            ADMIN_BAD,
        ),
        (
            M::Post,
            "/security/blocks/999/unblock".into(),
            vec![],
            [303, 403, 403, 404],
        ),
        (M::Get, "/api/v1/protection".into(), vec![], READ_API),
        (M::Put, "/api/v1/protection".into(), vec![], ADMIN_API_BAD),
        (M::Get, "/api/v1/blocks".into(), vec![], READ_API),
        (M::Post, "/api/v1/blocks".into(), vec![], ADMIN_API_BAD),
        (
            M::Delete,
            "/api/v1/blocks/999".into(),
            vec![],
            [401, 403, 403, 404],
        ),
    ]
}
