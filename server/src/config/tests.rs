//! How flags, the environment, `dozor.toml` and defaults combine.
use super::*;

#[test]
fn debug_never_shows_secrets() {
    let mut cfg = Config::for_data_dir("/tmp/x");
    cfg.database_url = Some("postgres://dozor:hunter2secret@db:5432/dozor".into());
    cfg.database_password = Some("filepassword".into());
    let shown = format!("{cfg:?}");
    assert!(
        !shown.contains("hunter2secret") && !shown.contains("filepassword"),
        "{shown}"
    );
    assert!(
        shown.contains("postgres://dozor:***@db:5432/dozor"),
        "{shown}"
    );
    assert_eq!(redact_url("postgres://db/dozor"), "postgres://db/dozor");
    assert_eq!(redact_url("postgres://u@db/x"), "postgres://u@db/x");
}

#[test]
fn flags_beat_file_and_defaults_apply() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dozor.toml");
    std::fs::write(
        &file,
        "listen = \"0.0.0.0:9000\"\nretention = \"7d\"\nlocal_collector = false\ndata_dir = \"/tmp/x\"\n",
    )
    .unwrap();
    let args = ServerArgs {
        config: Some(file.clone()),
        retention: Some("2d".into()),
        ..Default::default()
    };
    let cfg = resolve(&args).unwrap();
    assert_eq!(cfg.listen.to_string(), "0.0.0.0:9000");
    assert_eq!(cfg.retention, Duration::from_secs(2 * 86_400));
    assert!(!cfg.local_collector);
    assert_eq!(cfg.data_dir, PathBuf::from("/tmp/x"));
    assert_eq!(cfg.store_url(), "/tmp/x/dozor.db");

    std::fs::write(&file, "retention = \"30d\"\nbogus = 1\n").unwrap();
    let err = resolve(&ServerArgs {
        config: Some(file),
        ..Default::default()
    })
    .unwrap_err();
    assert!(format!("{err:#}").contains("bogus"), "{err:#}");
}

#[test]
fn password_file_is_read_and_trimmed() {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "s3cret pass\n").unwrap();
    let args = ServerArgs {
        config: Some("/dev/null".into()),
        database_password_file: Some(pw),
        ..Default::default()
    };
    assert_eq!(
        resolve(&args).unwrap().database_password.as_deref(),
        Some("s3cret pass")
    );
    let missing = ServerArgs {
        config: Some("/dev/null".into()),
        database_password_file: Some(dir.path().join("nope")),
        ..Default::default()
    };
    assert!(format!("{:#}", resolve(&missing).unwrap_err()).contains("password file"));
}

#[test]
fn defaults() {
    let cfg = resolve(&ServerArgs {
        config: Some(PathBuf::from("/dev/null")),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(cfg.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(cfg.data_dir, PathBuf::from("./dozor-data"));
    assert_eq!(cfg.retention, Duration::from_secs(30 * 86_400));
    assert!(cfg.local_collector);
    assert!(resolve(&ServerArgs {
        config: Some("/dev/null".into()),
        retention: Some("5x".into()),
        ..Default::default()
    })
    .is_err());
}
