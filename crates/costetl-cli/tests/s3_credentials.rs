//! The S3 store finds credentials the way the Prometheus adapter does
//! (costetl-aws's chain), shown end to end: the `costetl` binary with an
//! environment of exactly the variables a test gives (`env_clear`), a home
//! directory of its own, and moto's S3 and STS on 127.0.0.1. moto accepts
//! any signature, so each test reads which credentials were used from the
//! binary's log (`-v`: `S3 credentials from <source> (access key <id>)`).
//! Instance metadata is disabled: nothing leaves 127.0.0.1.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use costetl_testkit::{S3_REGION, S3Server};

/// The role the tests assume (moto takes any well-formed ARN).
const ROLE: &str = "arn:aws:iam::123456789012:role/costetl-etl";
const DAY: &str = "2023-11-14T00:00:00Z,2023-11-15T00:00:00Z";

fn fixtures() -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/two-clusters-day");
    dir.to_str().expect("UTF-8 path").to_owned()
}

/// `costetl -v <args>` with exactly `vars` (plus `HOME`) as environment.
fn costetl(home: &Path, vars: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_costetl"))
        .env_clear()
        .env("HOME", home)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(vars.iter().copied())
        .arg("-v")
        .args(args)
        .output()
        .expect("the costetl binary runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A `--config` file whose `[store]` is `s3` with `extra` lines under
/// `[store.s3]` and no keys.
fn store_config(home: &Path, s3: &S3Server, extra: &str) -> String {
    let path = home.join("costetl.toml");
    let text = format!(
        "[store]\nurl = \"s3://{}/fleet\"\n\n[store.s3]\nendpoint = \"{}\"\nregion = \
         \"{S3_REGION}\"\nallow_http = true\n{extra}",
        s3.bucket(),
        s3.url()
    );
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

/// `etl build` of the fixture day, which must succeed; returns its log.
fn build(home: &Path, vars: &[(&str, &str)], config: &[&str]) -> String {
    let fx = fixtures();
    let args = [
        &["etl", "build", "--fixtures", &fx, "--window", DAY][..],
        config,
    ]
    .concat();
    let out = costetl(home, vars, &args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    stderr(&out)
}

/// `AWS_PROFILE` picks a profile of `~/.aws/credentials`; `role_arn` in
/// `[store.s3]` is assumed (STS AssumeRole, signed with the profile's keys)
/// and the role's credentials sign the S3 requests.
#[test]
fn aws_profile_and_role_arn() {
    let s3 = S3Server::start("profile-etl").unwrap();
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join(".aws")).unwrap();
    std::fs::write(
        home.path().join(".aws/credentials"),
        "[default]\naws_access_key_id = AKIADEFAULT000000000\naws_secret_access_key = d\n\n\
         [fleet]\naws_access_key_id = AKIAFLEET00000000000\naws_secret_access_key = f\n",
    )
    .unwrap();
    let vars = [("AWS_PROFILE", "fleet")];

    let config = store_config(home.path(), &s3, "");
    let log = build(home.path(), &vars, &["--config", &config]);
    assert!(
        log.contains("S3 credentials from profile \"fleet\" (access key AKIAFLEET00000000000)"),
        "{log}"
    );

    let sts = format!("sts_endpoint = \"{}\"\nrole_arn = \"{ROLE}\"\n", s3.url());
    let config = store_config(home.path(), &s3, &sts);
    let log = build(home.path(), &vars, &["--config", &config]);
    let want = format!("S3 credentials from role {ROLE} (assumed with profile \"fleet\")");
    assert!(log.contains(&want), "{log}");
    // STS hands out temporary keys; the profile's are not what signed.
    assert!(log.contains("(access key ASIA"), "{log}");

    let out = costetl(home.path(), &vars, &["etl", "status", "--config", &config]);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        listed.contains("prod-eu") && listed.contains("prod-us"),
        "{listed}"
    );
}

/// EKS IRSA as the seed sets it up: Kubecost's `federated-store.yaml`
/// without keys (its `sts_endpoint` mapped), `AWS_ROLE_ARN` and
/// `AWS_WEB_IDENTITY_TOKEN_FILE` from the pod → STS
/// AssumeRoleWithWebIdentity → the role's temporary keys.
#[test]
fn irsa_web_identity_with_kubecost_yaml() {
    let s3 = S3Server::start("irsa-etl").unwrap();
    let home = tempfile::tempdir().unwrap();
    let token = home.path().join("token");
    std::fs::write(&token, "eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl\n").unwrap();
    let host = s3.url().strip_prefix("http://").unwrap().to_owned();
    let yaml = home.path().join("federated-store.yaml");
    std::fs::write(
        &yaml,
        format!(
            "type: S3\nprefix: fleet\nconfig:\n  bucket: \"{}\"\n  endpoint: \"{host}\"\n  \
             region: \"{S3_REGION}\"\n  insecure: true\n  aws_sdk_auth: true\n  \
             sts_endpoint: \"{}\"\n",
            s3.bucket(),
            s3.url()
        ),
    )
    .unwrap();
    let vars = [
        ("AWS_ROLE_ARN", ROLE),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token.to_str().unwrap()),
    ];
    let log = build(
        home.path(),
        &vars,
        &["--store-config", yaml.to_str().unwrap()],
    );
    let want = format!("S3 credentials from web identity (role {ROLE}) (access key ASIA");
    assert!(log.contains(&want), "{log}");
}

/// With no source configured the run fails, and the message names every
/// step of the chain and why it had nothing.
#[test]
fn no_credentials_names_every_step() {
    let s3 = S3Server::start("no-creds-etl").unwrap();
    let home = tempfile::tempdir().unwrap();
    let config = store_config(home.path(), &s3, "");
    let fx = fixtures();
    let args = [
        "etl",
        "build",
        "--fixtures",
        &fx,
        "--window",
        DAY,
        "--config",
        &config,
    ];
    let out = costetl(home.path(), &[], &args);
    // Each failed cluster-window is reported (stdout), then the run fails.
    let err = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(!out.status.success(), "{err}");
    for step in [
        "no AWS credentials: tried environment (AWS_ACCESS_KEY_ID unset)",
        "profile \"default\" (not found in",
        "web identity (AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN unset)",
        "container (",
        "instance metadata (disabled by AWS_EC2_METADATA_DISABLED)",
    ] {
        assert!(err.contains(step), "missing {step:?} in:\n{err}");
    }
}
