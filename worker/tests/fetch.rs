//! `worker fetch` against a local HTTP server on 127.0.0.1 that serves the
//! datasets beside the project, and the transformations of the public
//! homes' formats (tar.gz member, ARFF to CSV) on the real files.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use sweep_worker::data::fetch::{arff_to_csv, untar_member};
use sweep_worker::data::sha256_hex;

fn shared_datasets() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sweep-fetch-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Serves files under `root` on 127.0.0.1 port 0; with `corrupt`, every
/// file has one byte flipped. Returns the base URL.
fn serve(root: PathBuf, corrupt: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            loop {
                let mut header = String::new();
                if reader
                    .read_line(&mut header)
                    .map(|n| n == 0)
                    .unwrap_or(true)
                    || header == "\r\n"
                {
                    break;
                }
            }
            let path = request
                .split_whitespace()
                .nth(1)
                .unwrap_or("/")
                .trim_start_matches('/');
            let response = match std::fs::read(root.join(path)) {
                Ok(mut body) if !path.contains("..") => {
                    if corrupt {
                        let middle = body.len() / 2;
                        body[middle] ^= 0x20;
                    }
                    let mut r = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    r.extend(body);
                    r
                }
                _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_vec(),
            };
            let _ = stream.write_all(&response);
        }
    });
    url
}

fn fetch(dest: &Path, mirror: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_worker"))
        .args(["fetch", "--dataset", "wine,autompg", "--dest"])
        .arg(dest)
        .args(["--mirror", mirror])
        .output()
        .unwrap()
}

#[test]
fn fetches_verifies_and_skips_what_it_already_has() {
    let url = serve(shared_datasets(), false);
    let dest = scratch("ok");
    let out = fetch(&dest, &url);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(err.matches("downloaded and verified").count(), 2, "{err}");
    for f in ["wine-quality/winequality-red.csv", "auto-mpg/auto-mpg.data"] {
        assert_eq!(
            std::fs::read(dest.join(f)).unwrap(),
            std::fs::read(shared_datasets().join(f)).unwrap()
        );
    }
    // The fetched directory is a data directory the trainer reads.
    sweep_worker::data::load(
        sweep_shared::DatasetName::AutoMpg,
        &dest,
        0,
        sweep_shared::Protocol::Method,
    )
    .unwrap();

    let again = fetch(&dest, &url);
    assert!(again.status.success());
    assert_eq!(
        String::from_utf8_lossy(&again.stderr)
            .matches("already present")
            .count(),
        2
    );
    std::fs::remove_dir_all(&dest).unwrap();
}

#[test]
fn a_corrupt_download_is_refused_and_nothing_is_written() {
    let url = serve(shared_datasets(), true);
    let dest = scratch("corrupt");
    let out = fetch(&dest, &url);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("winequality-red.csv: checksum mismatch"),
        "{err}"
    );
    assert!(!dest.join("wine-quality/winequality-red.csv").exists());
    assert!(!dest.join("wine-quality/winequality-red.part").exists());
}

#[test]
fn an_unreachable_mirror_is_a_clear_error() {
    // Bind then drop a port so that nothing listens on it.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = fetch(&scratch("down"), &format!("http://127.0.0.1:{port}"));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("download of http://127.0.0.1"));
}

#[test]
fn the_openml_arff_becomes_the_published_titanic_csv() {
    let arff = std::fs::read(shared_datasets().join("titanic/Titanic.arff")).unwrap();
    let csv = arff_to_csv(&arff).unwrap();
    assert_eq!(
        sha256_hex(&csv),
        "77239f1d7d809091619c343ae31b9b040a183e5da92068e57302151031353596"
    );
}

#[test]
fn the_housing_file_is_taken_out_of_its_archive() {
    let data =
        std::fs::read(shared_datasets().join("california-housing/cal_housing.data")).unwrap();
    let mut archive = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    archive
        .append_data(&mut header, "CaliforniaHousing/cal_housing.data", &data[..])
        .unwrap();
    let tgz = archive.into_inner().unwrap().finish().unwrap();
    let member = untar_member(&tgz, "CaliforniaHousing/cal_housing.data").unwrap();
    assert_eq!(
        sha256_hex(&member),
        "a2b44dcc7e1c9091b43c4f458b25cbd1f7e8068d08edd26bc4703108d3fa6214"
    );
    assert!(untar_member(&tgz, "missing")
        .unwrap_err()
        .to_string()
        .contains("no member `missing`"));
}
