use super::*;

fn write(dir: &tempfile::TempDir, text: &str) -> PathBuf {
    let p = dir.path().join("ward.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn env(vars: &[(&str, &str)]) -> Vec<(String, String)> {
    vars.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn load(
    file: Option<&Path>,
    vars: &[(&str, &str)],
    cli: &CliOverrides,
) -> Result<ServerConfig, ConfigError> {
    ServerConfig::load(file, env(vars), cli).map(|(c, _)| c)
}

#[test]
fn nothing_set_gives_the_documented_defaults() {
    let c = load(
        None,
        &[("HOME", "/root"), ("PATH", "/bin")],
        &CliOverrides::default(),
    )
    .unwrap();
    assert_eq!(c.listen.to_string(), "0.0.0.0:8443");
    assert_eq!(c.data_dir, PathBuf::from("/var/lib/ward"));
    assert_eq!(c.packages_dir(), PathBuf::from("/var/lib/ward/packages"));
    assert_eq!(c.rules_dir(), PathBuf::from("/var/lib/ward/rules"));
    assert!(c.advertise.is_empty());
    assert_eq!(c.policy.keepalive_secs, 30);
    assert_eq!(c.limits.max_sessions, 200_000);
    assert_eq!(c.limits.tls_handshake_timeout_secs, 10);
    assert_eq!(c.limits.max_concurrent_handshakes, 256);
    assert_eq!(c.log.format, LogFormat::Text);
    assert_eq!(c.release.metadata_expiry_secs, 604_800);
    assert!(c.validate().is_empty(), "{:?}", c.validate());
}

#[test]
fn release_expiry_from_env_and_its_bounds() {
    let c = load(
        None,
        &[("WARD_RELEASE__METADATA_EXPIRY_SECS", "3600")],
        &CliOverrides::default(),
    )
    .unwrap();
    assert_eq!(c.release.metadata_expiry_secs, 3600);
    assert!(c.validate().is_empty());
    let c = load(
        None,
        &[("WARD_RELEASE__METADATA_EXPIRY_SECS", "5")],
        &CliOverrides::default(),
    )
    .unwrap();
    let p = c.validate();
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].key, "release.metadata_expiry_secs");
}

#[test]
fn file_values_apply_and_partial_tables_keep_other_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        &dir,
        "listen = \"127.0.0.1:9000\"\n[policy]\nkeepalive_secs = 5\n[log]\nformat = \"json\"\n",
    );
    let c = load(Some(&f), &[], &CliOverrides::default()).unwrap();
    assert_eq!(c.listen.to_string(), "127.0.0.1:9000");
    assert_eq!(c.policy.keepalive_secs, 5);
    assert_eq!(
        c.policy.missed_keepalives, 3,
        "untouched policy keys keep defaults"
    );
    assert_eq!(c.log.format, LogFormat::Json);
    assert_eq!(c.log.level, "info");
}

#[test]
fn unknown_key_in_file_is_an_error_naming_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(&dir, "listen = \"127.0.0.1:9000\"\nlisten_port = 9\n");
    let e = load(Some(&f), &[], &CliOverrides::default()).unwrap_err();
    let text = e.to_string();
    assert!(text.contains(&f.display().to_string()), "{text}");
    assert!(text.contains("listen_port"), "{text}");
    assert!(text.contains("unknown key"), "{text}");
    assert!(!text.contains('\n'), "one line: {text}");

    // Inside a nested table of a foreign type (ward_proto::Policy) too.
    let f = write(&dir, "[policy]\nkeepalive_sec = 5\n");
    let text = load(Some(&f), &[], &CliOverrides::default())
        .unwrap_err()
        .to_string();
    assert!(text.contains("policy.keepalive_sec"), "{text}");
    assert!(text.contains(&f.display().to_string()), "{text}");

    let f = write(&dir, "[tls]\ncertificate = \"/x\"\n");
    let text = load(Some(&f), &[], &CliOverrides::default())
        .unwrap_err()
        .to_string();
    assert!(text.contains("tls.certificate"), "{text}");
}

#[test]
fn env_overrides_file_and_cli_overrides_env() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        &dir,
        "listen = \"127.0.0.1:9000\"\n[policy]\nkeepalive_secs = 5\n",
    );
    let vars = [
        ("WARD_POLICY__KEEPALIVE_SECS", "7"),
        ("WARD_LISTEN", "127.0.0.1:9001"),
        ("WARD_DATA_DIR", "/tmp/ward-env"),
        (
            "WARD_ADVERTISE",
            "https://a.example:8443,https://198.51.100.1:8443",
        ),
    ];
    let c = load(Some(&f), &vars, &CliOverrides::default()).unwrap();
    assert_eq!(c.policy.keepalive_secs, 7);
    assert_eq!(c.listen.to_string(), "127.0.0.1:9001");
    assert_eq!(c.data_dir, PathBuf::from("/tmp/ward-env"));
    assert_eq!(
        c.advertise,
        vec![
            "https://a.example:8443".to_string(),
            "https://198.51.100.1:8443".to_string()
        ]
    );

    let cli = CliOverrides {
        listen: Some("127.0.0.1:9002".into()),
        data_dir: Some(PathBuf::from("/tmp/ward-cli")),
    };
    let c = load(Some(&f), &vars, &cli).unwrap();
    assert_eq!(c.listen.to_string(), "127.0.0.1:9002");
    assert_eq!(c.data_dir, PathBuf::from("/tmp/ward-cli"));
    assert_eq!(c.policy.keepalive_secs, 7);
}

#[test]
fn unknown_env_key_is_an_error_naming_the_variable() {
    let e = load(
        None,
        &[("WARD_LISTN", "127.0.0.1:1")],
        &CliOverrides::default(),
    )
    .unwrap_err();
    let text = e.to_string();
    assert!(text.contains("environment variable WARD_LISTN"), "{text}");
    assert!(text.contains("listn"), "{text}");

    let e = load(
        None,
        &[("WARD_POLICY__BOGUS", "1")],
        &CliOverrides::default(),
    )
    .unwrap_err();
    let text = e.to_string();
    assert!(text.contains("WARD_POLICY__BOGUS"), "{text}");
    assert!(text.contains("policy.bogus"), "{text}");
}

#[test]
fn bad_types_name_the_key_path() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(&dir, "[policy]\nkeepalive_secs = \"often\"\n");
    let text = load(Some(&f), &[], &CliOverrides::default())
        .unwrap_err()
        .to_string();
    assert!(text.contains("policy.keepalive_secs"), "{text}");
    assert!(text.contains(&f.display().to_string()), "{text}");

    let text = load(
        None,
        &[("WARD_LIMITS__MAX_SESSIONS", "lots")],
        &CliOverrides::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(text.contains("limits.max_sessions"), "{text}");
    assert!(text.contains("WARD_LIMITS__MAX_SESSIONS"), "{text}");

    let cli = CliOverrides {
        listen: Some("not-an-address".into()),
        data_dir: None,
    };
    let text = load(None, &[], &cli).unwrap_err().to_string();
    assert!(text.contains("command line --listen"), "{text}");
    assert!(text.contains("listen"), "{text}");
}

#[test]
fn validate_reports_every_problem_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let f = write(
        &dir,
        &format!(
            "advertise = [\"http://x:1\"]\n[tls]\ncert = \"{}\"\n[policy]\nkeepalive_secs = 0\n[log]\nlevel = \"loud\"\n[limits]\nmax_sessions = 0\n",
            missing.display()
        ),
    );
    let (c, origins) = ServerConfig::load(Some(&f), env(&[]), &CliOverrides::default()).unwrap();
    let keys: Vec<String> = c.validate().into_iter().map(|p| p.key).collect();
    for want in [
        "advertise[0]",
        "tls.key",
        "tls.cert",
        "policy.keepalive_secs",
        "log.level",
        "limits.max_sessions",
    ] {
        assert!(
            keys.iter().any(|k| k == want),
            "{want} missing from {keys:?}"
        );
    }
    let e = c.check(&origins).unwrap_err();
    let problems = e.problems();
    assert_eq!(problems.len(), keys.len());
    let cert = problems.iter().find(|p| p.contains("cannot read")).unwrap();
    assert!(cert.contains(&f.display().to_string()), "{cert}");
    assert!(cert.contains("missing.pem"), "{cert}");
}

#[test]
fn advertise_urls_are_checked() {
    assert!(check_advertise_url("https://ward.example:8443").is_ok());
    assert!(check_advertise_url("https://198.51.100.7:8443/").is_ok());
    assert!(check_advertise_url("https://[2001:db8::1]:8443").is_ok());
    assert!(check_advertise_url("https://ward.example").is_ok());
    for bad in [
        "http://ward.example:8443",
        "https://",
        "https://ward.example:0",
        "https://ward.example:99999",
        "https://ward.example:8443/path",
        "https://[2001:db8::1:8443",
    ] {
        assert!(check_advertise_url(bad).is_err(), "{bad} must be refused");
    }
}

#[test]
fn rules_dir_from_the_environment_and_a_file_in_its_place_is_a_problem() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "").unwrap();
    let c = load(
        None,
        &[("WARD_RULES_DIR", file.to_str().unwrap())],
        &CliOverrides::default(),
    )
    .unwrap();
    assert_eq!(c.rules_dir(), file);
    let problems = c.validate();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].key, "rules_dir");
    assert!(problems[0].message.contains("not a directory"));
}
