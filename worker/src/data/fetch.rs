//! `worker fetch`: downloads the paper datasets into a data directory,
//! verifies every file against its published SHA-256 and refuses a corrupt
//! download. A file already present and intact is not downloaded again.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use sweep_shared::DatasetName;

use super::{sha256_hex, ContentError, DataError};
use sweep_shared::registry::read_verified;
use sweep_shared::registry::{self as files, DataFile, Origin};

/// Where files come from.
#[derive(Debug, Clone)]
pub enum FetchFrom {
    /// The public homes of the datasets (UCI, OpenML, L. Torgo's page).
    Origin,
    /// A mirror laid out like a data directory: `BASE/<dataset dir>/<file>`.
    Mirror(String),
}

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    Downloaded(PathBuf),
    AlreadyPresent(PathBuf),
}

pub fn fetch(
    datasets: &[DatasetName],
    dest: &Path,
    from: &FetchFrom,
) -> Result<Vec<Fetched>, DataError> {
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(20))
        .timeout_read(Duration::from_secs(60))
        .build();
    let mut done = Vec::new();
    for &name in datasets {
        for source in files::sources(name) {
            let target = dest.join(source.file.path);
            if read_verified(dest, &source.file).is_ok() {
                done.push(Fetched::AlreadyPresent(target));
                continue;
            }
            let bytes = match from {
                FetchFrom::Mirror(base) => {
                    let url = format!("{}/{}", base.trim_end_matches('/'), source.file.path);
                    download(&agent, &url)?
                }
                FetchFrom::Origin => match source.origin {
                    Origin::Plain { url } => download(&agent, url)?,
                    Origin::TarGz { url, member } => {
                        let archive = download(&agent, url)?;
                        untar_member(&archive, member).map_err(|source| DataError::Unpack {
                            url: url.to_string(),
                            source,
                        })?
                    }
                    Origin::ArffToCsv { url } => {
                        let arff = download(&agent, url)?;
                        arff_to_csv(&arff).map_err(|source| DataError::Unpack {
                            url: url.to_string(),
                            source,
                        })?
                    }
                },
            };
            write_verified(&target, &source.file, &bytes)?;
            done.push(Fetched::Downloaded(target));
        }
    }
    Ok(done)
}

fn download(agent: &ureq::Agent, url: &str) -> Result<Vec<u8>, DataError> {
    let fail = |message: String| DataError::Download {
        url: url.to_string(),
        message,
    };
    let response = agent.get(url).call().map_err(|e| fail(e.to_string()))?;
    let total: Option<u64> = response
        .header("content-length")
        .and_then(|v| v.parse().ok());
    let bar = match total {
        Some(n) => ProgressBar::new(n).with_style(
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .expect("static template")
            .progress_chars("=> "),
        ),
        None => ProgressBar::new_spinner(),
    };
    bar.set_message(url.rsplit('/').next().unwrap_or(url).to_string());
    let mut bytes = Vec::with_capacity(total.unwrap_or(0) as usize);
    let mut reader = bar.wrap_read(response.into_reader());
    reader
        .read_to_end(&mut bytes)
        .map_err(|e| fail(e.to_string()))?;
    bar.finish_and_clear();
    if let Some(n) = total {
        if n != bytes.len() as u64 {
            return Err(fail(format!("truncated: got {} of {n} bytes", bytes.len())));
        }
    }
    Ok(bytes)
}

/// Checks the bytes, then writes them through a temporary file and a rename
/// so a crash never leaves a half-written file under the real name.
fn write_verified(target: &Path, file: &DataFile, bytes: &[u8]) -> Result<(), DataError> {
    let actual = sha256_hex(bytes);
    if actual != file.sha256 {
        return Err(DataError::Checksum {
            path: target.to_path_buf(),
            expected: file.sha256.to_string(),
            actual,
        });
    }
    let io = |source| DataError::Io {
        path: target.to_path_buf(),
        source,
    };
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let tmp = target.with_extension("part");
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, target).map_err(io)
}

/// Extracts one member of a `.tgz` archive.
pub fn untar_member(archive: &[u8], member: &str) -> Result<Vec<u8>, ContentError> {
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    for entry in tar.entries().map_err(ContentError::NotTarGz)? {
        let mut entry = entry.map_err(ContentError::CorruptArchive)?;
        let path = entry
            .path()
            .map_err(ContentError::MemberPath)?
            .to_string_lossy()
            .into_owned();
        if path == member {
            let mut out = Vec::new();
            entry
                .read_to_end(&mut out)
                .map_err(ContentError::CorruptArchive)?;
            return Ok(out);
        }
    }
    Err(ContentError::NoMember(member.to_string()))
}

/// Derives `titanic.csv` from OpenML's ARFF: a header naming the attributes,
/// then the data lines verbatim (they are already valid CSV records).
pub fn arff_to_csv(arff: &[u8]) -> Result<Vec<u8>, ContentError> {
    let text = std::str::from_utf8(arff).map_err(ContentError::ArffNotUtf8)?;
    let mut names = Vec::new();
    let mut lines = text.lines();
    for line in lines.by_ref() {
        let lower = line.trim_start().to_ascii_lowercase();
        if lower.starts_with("@attribute") {
            let name = line
                .split_whitespace()
                .nth(1)
                .ok_or(ContentError::ArffUnnamedAttribute)?;
            names.push(name.trim_matches('\'').to_string());
        } else if lower.starts_with("@data") {
            break;
        }
    }
    if names.is_empty() {
        return Err(ContentError::ArffNoAttributes);
    }
    let mut csv = names.join(",");
    csv.push('\n');
    for line in lines.filter(|l| !l.trim().is_empty()) {
        csv.push_str(line);
        csv.push('\n');
    }
    Ok(csv.into_bytes())
}
