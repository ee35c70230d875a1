//! Services: validation refuses every field that could carry an nginx
//! directive, naming the field, and the renderer (which checks again) never
//! writes such a value even when handed one directly.

use dozor_common::services::members::Member;
use dozor_common::services::render::{render, Settings};
use dozor_common::services::validate::check;
use dozor_common::services::{Balance, Service, ServicesDoc};
use std::collections::BTreeMap;

fn good() -> Service {
    Service {
        name: "app".into(),
        host: "web-1".into(),
        domains: vec!["App.Example.com".into(), "*.example.org".into()],
        port: Some(8080),
        ..Default::default()
    }
}

const PAYLOADS: [&str; 12] = [
    "a; return 200 pwned",
    "a}\nserver { listen 81; }",
    "a{",
    "a\"b",
    "a'b",
    "$host",
    "a#b",
    "a\\b",
    "a\nb",
    "a b",
    "a\tb",
    "a\0b",
];

#[test]
fn every_field_refuses_directive_injection_and_names_itself() {
    type Set = fn(&mut Service, &str);
    let fields: [(&str, Set); 6] = [
        ("name", |s, v| s.name = v.into()),
        ("domains", |s, v| {
            s.domains = vec![format!("x{v}.example.com")]
        }),
        ("path", |s, v| s.path = format!("/{v}")),
        ("static_upstreams", |s, v| {
            s.static_upstreams = vec![format!("10.0.0.1{v}:80")]
        }),
        ("max_body", |s, v| s.max_body = format!("1{v}")),
        ("headers", |s, v| {
            s.headers = vec![("X-Test".into(), v.into())]
        }),
    ];
    for (field, set) in fields {
        for p in PAYLOADS {
            // A header value is written in double quotes, where one space
            // is only text (`Cache-Control: public, max-age=600`).
            if field == "headers" && p == "a b" {
                continue;
            }
            let mut s = good();
            set(&mut s, p);
            let errors = check(&s).expect_err(&format!("{field} = {p:?} accepted"));
            assert!(
                errors.iter().any(|e| e.field == field),
                "{field} = {p:?}: {errors:?}"
            );
        }
    }
    let mut s = good();
    s.headers = vec![("X-A;b".into(), "ok".into())];
    assert_eq!(check(&s).unwrap_err()[0].field, "headers");
}

#[test]
fn numbers_out_of_range_are_refused() {
    type Change = fn(&mut Service);
    let cases: [(&str, Change); 5] = [
        ("port", |s| s.port = Some(0)),
        ("read_timeout_s", |s| s.read_timeout_s = 0),
        ("connect_timeout_s", |s| s.connect_timeout_s = 3601),
        ("max_fails", |s| s.max_fails = 101),
        ("max_body", |s| s.max_body = "101g".into()),
    ];
    for (field, set) in cases {
        let mut s = good();
        set(&mut s);
        assert_eq!(check(&s).unwrap_err()[0].field, field);
    }
}

#[test]
fn domains_are_normalised() {
    let s = check(&Service {
        domains: vec![
            "Bücher.Example".into(),
            "app.example.com.".into(),
            "APP.example.com".into(),
        ],
        ..good()
    })
    .unwrap();
    assert_eq!(s.domains, ["app.example.com", "xn--bcher-kva.example"]);
    for bad in [
        "",
        "-a.example.com",
        "a..b",
        "*.*.example.com",
        "a*.example.com",
        "example",
        "a_b.example.com",
    ] {
        let r = check(&Service {
            domains: vec![bad.into()],
            ..good()
        });
        assert!(r.is_err(), "{bad:?} accepted");
    }
}

fn live(addr: &str) -> Member {
    Member {
        container: Some("app-1".into()),
        address: addr.into(),
        out: None,
    }
}

#[test]
fn a_service_renders_to_a_proxy_with_its_options() {
    let mut s = good();
    s.lb = Balance::LeastConn;
    s.path = "/api".into();
    s.headers = vec![("X-Frame-Options".into(), "DENY".into())];
    let doc = ServicesDoc {
        services: vec![s],
        ..Default::default()
    };
    let members = BTreeMap::from([("app".to_string(), vec![live("172.17.0.2:8080")])]);
    let settings = Settings::new(8081, "/etc/nginx/dozor").unwrap();
    let r = render(&doc, &members, &settings);
    assert!(r.skipped.is_empty(), "{:?}", r.skipped);
    let c = &r.config;
    for want in [
        "upstream dozor_app {\n    least_conn;\n    server 172.17.0.2:8080 max_fails=1 fail_timeout=10s;",
        "server_name app.example.com;",
        "server_name *.example.org;",
        "listen 8081;",
        "location ^~ /api/ {",
        "location = /api {",
        "add_header X-Frame-Options \"DENY\" always;",
        "error_page 503 /_dozor_errors/app/503.html;",
        "alias /etc/nginx/dozor/errors/;",
        "proxy_set_header Connection $dozor_connection_upgrade;",
        "client_max_body_size 10m;",
    ] {
        assert!(c.contains(want), "{want:?} missing from\n{c}");
    }
    assert!(r.files["errors/app/503.html"].contains("echo var=\"request_id\""));
    // The same input renders the same bytes.
    assert_eq!(render(&doc, &members, &settings), r);
}

#[test]
fn no_members_answers_503_and_a_bad_member_address_is_left_out() {
    let doc = ServicesDoc {
        services: vec![good()],
        ..Default::default()
    };
    let members = BTreeMap::from([(
        "app".to_string(),
        vec![live("1.2.3.4:80; return 200 x"), live("")],
    )]);
    let r = render(
        &doc,
        &members,
        &Settings::new(80, "/var/lib/dozor/nginx").unwrap(),
    );
    assert!(!r.config.contains("upstream dozor_app"), "{}", r.config);
    assert!(r.config.contains("return 503;"));
    assert!(!r.config.contains("return 200"));
}

#[test]
fn the_renderer_checks_again_and_leaves_a_bad_service_out_alone() {
    let mut evil = good();
    evil.name = "evil".into();
    evil.domains = vec!["x.example.com; } server { listen 1; location / { return 200".into()];
    let mut other = good();
    other.name = "other".into();
    other.domains = vec!["other.example.com".into()];
    let mut clash = good();
    clash.name = "zzz".into();
    clash.domains = vec!["other.example.com".into()];
    let doc = ServicesDoc {
        services: vec![evil, other, clash],
        ..Default::default()
    };
    let r = render(&doc, &BTreeMap::new(), &Settings::new(80, "/d").unwrap());
    assert!(!r.config.contains("listen 1;") && !r.config.contains("return 200"));
    assert!(r.config.contains("server_name other.example.com;"));
    let skipped: Vec<&str> = r.skipped.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(skipped, ["evil", "zzz"], "{:?}", r.skipped);
    assert!(r.skipped[1].1.contains("already served by other"));
    assert!(Settings::new(80, "/etc/nginx; evil").is_err());
    assert!(Settings::new(80, "relative").is_err());
}

#[test]
fn disabled_services_and_their_domains_are_not_rendered() {
    let mut s = good();
    s.enabled = false;
    let doc = ServicesDoc {
        services: vec![s],
        ..Default::default()
    };
    let r = render(&doc, &BTreeMap::new(), &Settings::new(80, "/d").unwrap());
    assert!(!r.config.contains("server_name"));
    assert!(r.files.is_empty());
}

#[test]
fn traffic_and_protection_parts_render_only_checked_values() {
    let doc = ServicesDoc {
        services: vec![good()],
        ..Default::default()
    };
    let members = BTreeMap::from([("app".to_string(), vec![live("172.17.0.2:8080")])]);
    let info = dozor_common::services::NginxInfo {
        mode: "container:web".into(),
        http_port: 80,
        https_port: 443,
        dir: "/etc/nginx/conf.d/dozor".into(),
        status_port: Some(8089),
        real_ip_from: vec!["10.0.0.0/8".parse().unwrap()],
    };
    let mut settings = Settings::from_info(&info).unwrap();
    settings.deny_status = 444;
    let c = render(&doc, &members, &settings).config;
    for want in [
        "access_log /etc/nginx/conf.d/dozor/logs/access.log dozor_json buffer=32k flush=1s;",
        "set $dozor_service \"app\";",
        "set_real_ip_from 10.0.0.0/8;",
        "include /etc/nginx/conf.d/dozor/blocked.geo;",
        "if ($dozor_blocked) {\n        return 444;",
        "listen 8089;",
        "allow 172.16.0.0/12;",
        "log_format dozor_json escape=json",
    ] {
        assert!(c.contains(want), "{want:?} missing from\n{c}");
    }
    // On the host: loopback only; anything but 444 is 403.
    let mut host = info.clone();
    host.mode = "host".into();
    let mut settings = Settings::from_info(&host).unwrap();
    settings.deny_status = 200;
    let c = render(&doc, &members, &settings).config;
    assert!(c.contains("listen 127.0.0.1:8089;") && !c.contains("allow 10.0.0.0/8;"));
    assert!(c.contains("return 403;"));
    // No server block, no log format (it names a variable only locations set).
    let c = render(&ServicesDoc::default(), &members, &settings).config;
    assert!(!c.contains("log_format") && !c.contains("geo $dozor_blocked"));
}
